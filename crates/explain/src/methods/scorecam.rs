use burn::tensor::activation::softmax;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::Tensor;

use super::{CamMethod, CamWeights, MethodInputs};

/// Score-CAM: Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional
/// Neural Networks" (CVPRW 2020), eq. 6-8: each channel, upsampled and min-max normalised, masks
/// the input; the channel's weight is the softmax over channels of the masked inputs' scores.
pub struct ScoreCam;

/// Masked inputs per forward pass.
const BATCH: usize = 16;
/// pytorch-grad-cam's guard for constant channels.
const EPSILON: f32 = 1e-8;

impl CamMethod for ScoreCam {
    fn name(&self) -> &'static str {
        "scorecam"
    }

    fn summary(&self) -> &'static str {
        "Scores the photo masked by each channel: no gradients, but hundreds of passes (slow)."
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        let [n, c, _, _] = s.activations.dims();
        let [_, _, height, width] = s.input.dims();
        // As pytorch-grad-cam: UpsamplingBilinear2d, which aligns corners.
        let options = InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(true)
            .with_output_size([height, width]);
        let masks = interpolate(s.activations.clone(), options);
        let flat = masks.clone().reshape([n, c, height * width]);
        let (min, max) = (flat.clone().min_dim(2).reshape([n, c, 1, 1]), flat.max_dim(2).reshape([n, c, 1, 1]));
        let masks = (masks - min.clone()) / (max - min + EPSILON);

        let scores: Vec<Tensor<1>> = (0..n)
            .map(|i| {
                let image = s.input.clone().slice_dim(0, i..i + 1);
                let image_masks = masks.clone().slice_dim(0, i..i + 1).reshape([c, 1, height, width]);
                let chunks = (0..c).step_by(BATCH).map(|start| {
                    let end = (start + BATCH).min(c);
                    let masked = image.clone() * image_masks.clone().slice_dim(0, start..end);
                    s.target_scores(s.net.forward(masked), i)
                });
                Tensor::cat(chunks.collect(), 0)
            })
            .collect();
        CamWeights::PerChannel(softmax(Tensor::stack(scores, 0), 1))
    }
}
