use burn::tensor::activation::relu;

use super::{CamMethod, CamWeights, MethodInputs};

/// LayerCAM: Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
/// Localization" (IEEE TIP 2021), eq. 5: each activation weighted by its own positive gradient.
pub struct LayerCam;

impl CamMethod for LayerCam {
    fn name(&self) -> &'static str {
        "layercam"
    }

    fn summary(&self) -> &'static str {
        "Positive gradient times activation per position: sharp maps at early layers."
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        CamWeights::PerElement(relu(s.gradients()))
    }
}
