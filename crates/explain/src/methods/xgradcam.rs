use super::{CamMethod, CamWeights, MethodInputs};

/// XGrad-CAM: Fu et al., "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation
/// of CNNs" (BMVC 2020), eq. 12: w_k = sum_ij (A_k(i,j) / sum_ab A_k(a,b)) dy/dA_k(i,j).
pub struct XGradCam;

/// pytorch-grad-cam's guard for channels that are zero everywhere.
const EPSILON: f32 = 1e-7;

impl CamMethod for XGradCam {
    fn name(&self) -> &'static str {
        "xgradcam"
    }

    fn summary(&self) -> &'static str {
        "Gradients weighted by normalised activations: Grad-CAM with a principled scale."
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        let a = s.activations.clone();
        let normalised = a.clone() / (a.sum_dims(&[2, 3]) + EPSILON);
        CamWeights::PerChannel((normalised * s.gradients()).sum_dims(&[2, 3]).flatten(1, 3))
    }
}
