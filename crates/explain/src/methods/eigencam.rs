use burn::tensor::Tensor;

use super::{CamMethod, CamWeights, MethodInputs};

/// Eigen-CAM: Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components"
/// (IJCNN 2020), eq. 5: the activations projected on their first principal component. Class
/// independent.
pub struct EigenCam;

impl CamMethod for EigenCam {
    fn name(&self) -> &'static str {
        "eigencam"
    }

    fn summary(&self) -> &'static str {
        "The activations' main component: no gradients and not tied to a class."
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        let [n, c, _, _] = s.activations.dims();
        CamWeights::PerChannel(Tensor::ones([n, c], s.net.device()))
    }

    fn always_projects(&self) -> bool {
        true
    }
}
