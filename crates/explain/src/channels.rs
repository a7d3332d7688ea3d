//! Score-CAM and Ablation-CAM on one photo a batch of channels at a time, so that a caller can
//! show how far they are and stop between batches: the page's compare view adds them on request
//! (hundreds of passes, minutes on a CPU). The same batches and arithmetic as
//! [`CamMethod::weights`](crate::methods::CamMethod::weights), so the maps are the same.

use burn::tensor::{Tensor, TensorData};
use xai_model::ResNet;

use crate::analysis::{read_explanations, Analysis};
use crate::methods::{CamWeights, ChannelScoring, MethodInputs};
use crate::pipeline::{method_inputs, weighted_maps, CamError, CamRequest, Explanation, Target};
use crate::readback::read_floats;

pub struct ChannelByChannel<'a> {
    scoring: &'a dyn ChannelScoring,
    inputs: MethodInputs<'a>,
    target: Target,
    batch: usize,
    /// Every channel scored so far, read back.
    scores: Vec<f32>,
    /// Whether the weighted activations are projected on their first principal component.
    project: bool,
}

impl<'a> ChannelByChannel<'a> {
    /// Runs the shared pass of one preprocessed photo [1, 3, S, S] for the request's method,
    /// which must run passes of its own.
    pub fn start(net: &'a ResNet, input: &'a Tensor<4>, request: CamRequest<'a>) -> Result<Self, CamError> {
        let CamRequest { layer, target, method, eigen_smooth } = request;
        let scoring = method.channel_scoring().ok_or(CamError::NoOwnPasses(method.name()))?;
        let inputs = method_inputs(net, input, layer, target, false)?;
        let batch = scoring.batch(&inputs);
        let project = eigen_smooth || method.always_projects();
        Ok(Self { scoring, inputs, target: target.clone(), batch, scores: Vec::new(), project })
    }

    /// Channels scored, and how many there are.
    pub fn progress(&self) -> (usize, usize) {
        (self.scores.len(), self.inputs.activations.dims()[1])
    }

    /// Scores the next batch of channels; after the last, the photo's analysis.
    pub async fn step(&mut self) -> Result<Option<Analysis>, CamError> {
        let (done, channels) = self.progress();
        if done < channels {
            let batch = self.scoring.scores(&self.inputs, 0, done..(done + self.batch).min(channels));
            // Read back now: on a GPU this is where the batch's work is waited for.
            self.scores.extend(read_floats(batch).await?);
            return Ok(None);
        }
        let scores = Tensor::from_data(TensorData::new(self.scores.clone(), [1, channels]), self.inputs.net.device());
        let weights = CamWeights::PerChannel(self.scoring.weights_from(&self.inputs, scores));
        let maps = weighted_maps(weights, &self.inputs, self.project);
        let explanation = Explanation { maps, logits: self.inputs.logits.clone() };
        let mut analyses = read_explanations(vec![explanation], &self.target).await?;
        Ok(analyses.pop().and_then(|mut per_image| per_image.pop()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{network, photos};
    use crate::{analyse, methods};
    use xai_model::Layer;

    #[test]
    fn batch_by_batch_gives_the_map_all_at_once_gives() {
        let (net, input) = (network(), photos(1));
        let target = Target::classes(vec![3]);
        // Score-CAM at layer1: 256 channels, each a whole pass, run in seconds.
        let cases = [
            ("scorecam", Layer::Layer1, 256, false),
            ("ablationcam", Layer::Layer4, 2048, false),
            ("ablationcam", Layer::Layer4, 2048, true),
        ];
        for (name, layer, channels, eigen_smooth) in cases {
            let method = methods::by_name(name).unwrap();
            let request = CamRequest { layer, target: &target, method, eigen_smooth };
            let whole = pollster::block_on(analyse(&net, &input, request)).unwrap().remove(0);
            let mut run = ChannelByChannel::start(&net, &input, request).unwrap();
            let mut steps = 0;
            let analysis = loop {
                if let Some(analysis) = pollster::block_on(run.step()).unwrap() {
                    break analysis;
                }
                steps += 1;
            };
            assert_eq!(run.progress(), (channels, channels));
            assert!(steps > 1, "{name} ran in {steps} batches");
            assert_eq!(analysis.class, 3);
            for (a, b) in analysis.map.values.iter().zip(&whole.map.values) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{name}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_method_without_passes_of_its_own_is_refused() {
        let (net, input) = (network(), photos(1));
        let gradcam = methods::by_name("gradcam").unwrap();
        let request =
            CamRequest { layer: Layer::Layer4, target: &Target::TOP_CLASS, method: gradcam, eigen_smooth: false };
        assert!(ChannelByChannel::start(&net, &input, request).is_err());
    }
}
