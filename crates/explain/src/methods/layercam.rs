use burn::tensor::activation::relu;

use crate::cam::{CamMethod, Signals, Weights};

/// LayerCAM: Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
/// Localization" (IEEE TIP 2021), eq. 5: each activation weighted by its own positive gradient.
pub struct LayerCam;

impl CamMethod for LayerCam {
    fn name(&self) -> &'static str {
        "layercam"
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &Signals) -> Weights {
        Weights::PerElement(relu(s.gradients()))
    }
}
