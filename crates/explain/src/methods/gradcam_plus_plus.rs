use burn::tensor::activation::relu;

use super::{CamMethod, CamWeights, MethodInputs};

/// Grad-CAM++: Chattopadhay et al., "Grad-CAM++: Improved Visual Explanations for Deep
/// Convolutional Networks" (WACV 2018), eq. 19 with the exponential-output simplification:
/// alpha = g^2 / (2 g^2 + sum_ab A_ab g^3), w_k = sum_ij alpha_ij relu(g_ij).
pub struct GradCamPlusPlus;

/// pytorch-grad-cam's guard against 0/0 where the gradient vanishes.
const EPSILON: f32 = 1e-6;

impl CamMethod for GradCamPlusPlus {
    fn name(&self) -> &'static str {
        "gradcam++"
    }

    fn summary(&self) -> &'static str {
        "Weights positive gradients by position: better when the class appears several times."
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        let g = s.gradients();
        let g2 = g.clone().powi_scalar(2);
        let g3 = g2.clone() * g.clone();
        let sum_a = s.activations.clone().sum_dims(&[2, 3]);
        // Where g = 0, alpha's numerator is 0 too, so alpha = 0 as in the reference.
        let alpha = g2.clone() / (g2 * 2.0 + g3 * sum_a + EPSILON);
        CamWeights::PerChannel((alpha * relu(g)).sum_dims(&[2, 3]).flatten(1, 3))
    }
}
