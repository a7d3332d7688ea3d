use burn::tensor::{Tensor, TensorData};

use std::ops::Range;

use super::{score_channels, CamMethod, CamWeights, ChannelScoring, MethodInputs};

/// Ablation-CAM: Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep Convolutional
/// Network via Gradient-free Localization" (WACV 2020), eq. 3: w_k = (y_c - y_c^k) / y_c, where
/// y_c^k is the score with channel k of the layer set to zero.
pub struct AblationCam;

impl CamMethod for AblationCam {
    fn name(&self) -> &'static str {
        "ablationcam"
    }

    fn summary(&self) -> &'static str {
        "Removes each channel and measures the score's fall: no gradients, slow."
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        score_channels(self, s)
    }

    fn channel_scoring(&self) -> Option<&dyn ChannelScoring> {
        Some(self)
    }
}

impl ChannelScoring for AblationCam {
    /// Ablated copies of the activations per pass through the tail.
    fn most_per_batch(&self) -> usize {
        32
    }

    fn scores(&self, s: &MethodInputs, i: usize, channels: Range<usize>) -> Tensor<1> {
        let [_, c, h, w] = s.activations.dims();
        let (start, count) = (channels.start, channels.len());
        // Row r keeps every channel but start + r, the paper's ablation. pytorch-grad-cam's is
        // the same where the layer's minimum is 0 (after a ReLU: every layer of a plain ResNet);
        // where it can be negative (a pre-activation network's sums) it sets row r of each batch
        // of 32 to (r + 1) * 1e7 below the minimum, an artefact of its batches not copied here.
        let keep: Vec<f32> = (0..count * c).map(|k| if k % c == start + k / c { 0.0 } else { 1.0 }).collect();
        let keep = Tensor::<4>::from_data(TensorData::new(keep, [count, c, 1, 1]), s.net.device());
        let ablated = s.activations.clone().slice_dim(0, i..i + 1).expand([count, c, h, w]) * keep;
        s.target_scores(s.net.logits_from(ablated, s.layer), i)
    }

    fn weights_from(&self, s: &MethodInputs, ablated: Tensor<2>) -> Tensor<2> {
        let original = s.pass_scores().reshape([ablated.dims()[0], 1]);
        (original.clone() - ablated) / original
    }
}
