use crate::cam::{CamMethod, Signals, Weights};

/// Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization" (ICCV 2017), eq. 1: a_k^c = mean over (i, j) of dy^c/dA_k(i, j).
pub struct GradCam;

impl CamMethod for GradCam {
    fn name(&self) -> &'static str {
        "gradcam"
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &Signals) -> Weights {
        Weights::PerChannel(s.gradients().mean_dims(&[2, 3]).flatten(1, 3))
    }
}
