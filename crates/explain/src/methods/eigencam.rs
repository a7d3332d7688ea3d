use burn::tensor::Tensor;

use crate::cam::{CamMethod, Signals, Weights};

/// Eigen-CAM: Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components"
/// (IJCNN 2020), eq. 5: the activations projected on their first principal component. Class
/// independent.
pub struct EigenCam;

impl CamMethod for EigenCam {
    fn name(&self) -> &'static str {
        "eigencam"
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &Signals) -> Weights {
        let [n, c, _, _] = s.activations.dims();
        Weights::PerChannel(Tensor::ones([n, c], s.net.device()))
    }

    fn always_projects(&self) -> bool {
        true
    }
}
