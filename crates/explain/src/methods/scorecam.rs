use burn::tensor::activation::softmax;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::Tensor;

use std::ops::Range;

use super::{score_channels, CamMethod, CamWeights, ChannelScoring, MethodInputs};

/// Score-CAM: Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional
/// Neural Networks" (CVPRW 2020), eq. 6-8: each channel, upsampled and min-max normalised, masks
/// the input; the channel's weight is the softmax over channels of the masked inputs' scores.
pub struct ScoreCam;

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
        score_channels(self, s)
    }

    fn channel_scoring(&self) -> Option<&dyn ChannelScoring> {
        Some(self)
    }
}

impl ChannelScoring for ScoreCam {
    /// Masked inputs per forward pass.
    fn most_per_batch(&self) -> usize {
        16
    }

    fn scores(&self, s: &MethodInputs, i: usize, channels: Range<usize>) -> Tensor<1> {
        let [_, _, height, width] = s.input.dims();
        let count = channels.len();
        // As pytorch-grad-cam: UpsamplingBilinear2d, which aligns corners.
        let options = InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(true)
            .with_output_size([height, width]);
        let image = s.input.clone().slice_dim(0, i..i + 1);
        let activations = s.activations.clone().slice_dim(0, i..i + 1);
        // Upsampled a batch at a time: every channel at once would be [C, S, S] floats, 8 GB at
        // layer4 for a 1024 px input.
        let masks = interpolate(activations.slice_dim(1, channels), options).reshape([count, 1, height, width]);
        let flat = masks.clone().reshape([count, height * width]);
        let (min, max) = (flat.clone().min_dim(1), flat.max_dim(1));
        let (min, max) = (min.reshape([count, 1, 1, 1]), max.reshape([count, 1, 1, 1]));
        let masks = (masks - min.clone()) / (max - min + EPSILON);
        s.target_scores(s.net.forward(image * masks), i)
    }

    fn weights_from(&self, _s: &MethodInputs, scores: Tensor<2>) -> Tensor<2> {
        softmax(scores, 1)
    }
}
