use super::{CamMethod, CamWeights, MethodInputs};

/// Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization" (ICCV 2017), eq. 1: a_k^c = mean over (i, j) of dy^c/dA_k(i, j).
pub struct GradCam;

impl CamMethod for GradCam {
    fn name(&self) -> &'static str {
        "gradcam"
    }

    fn summary(&self) -> &'static str {
        "Each channel weighted by its mean gradient: the usual first choice."
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        CamWeights::PerChannel(s.gradients().mean_dims(&[2, 3]).flatten(1, 3))
    }
}
