use burn::tensor::{Tensor, TensorData};

use super::{CamMethod, CamWeights, MethodInputs};
use crate::budget::images_per_pass;

/// Ablation-CAM: Desai & Ramaswamy, "Ablation-CAM: Visual Explanations for Deep Convolutional
/// Network via Gradient-free Localization" (WACV 2020), eq. 3: w_k = (y_c - y_c^k) / y_c, where
/// y_c^k is the score with channel k of the layer set to zero.
pub struct AblationCam;

/// Ablated copies of the activations per pass through the tail, at most (fewer for large
/// inputs: `budget`).
const BATCH: usize = 32;

impl CamMethod for AblationCam {
    fn name(&self) -> &'static str {
        "ablationcam"
    }

    fn summary(&self) -> &'static str {
        "Removes each channel and measures the score's fall: no gradients, slow."
    }

    fn runs_own_passes(&self) -> bool {
        true
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        let [n, c, h, w] = s.activations.dims();
        let [_, _, height, width] = s.input.dims();
        let batch = images_per_pass(height, width, BATCH);
        let device = s.net.device();
        let original = s.pass_scores().reshape([n, 1]);
        let ablated: Vec<Tensor<1>> = (0..n)
            .map(|i| {
                let activations = s.activations.clone().slice_dim(0, i..i + 1);
                let chunks = (0..c).step_by(batch).map(|start| {
                    let count = batch.min(c - start);
                    // Row r keeps every channel but start + r. The layer follows a ReLU, so
                    // its minimum is 0 and pytorch-grad-cam ablates with 0 too.
                    let keep: Vec<f32> =
                        (0..count * c).map(|k| if k % c == start + k / c { 0.0 } else { 1.0 }).collect();
                    let keep = Tensor::<4>::from_data(TensorData::new(keep, [count, c, 1, 1]), device);
                    let ablated = activations.clone().expand([count, c, h, w]) * keep;
                    s.target_scores(s.net.logits_from(ablated, s.layer), i)
                });
                Tensor::cat(chunks.collect(), 0)
            })
            .collect();
        CamWeights::PerChannel((original.clone() - Tensor::stack(ablated, 0)) / original)
    }
}
