use super::{CamMethod, CamWeights, MethodInputs};

/// HiResCAM: Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of
/// convolutional neural networks" (2020), eq. 4: the element-wise product of gradients and
/// activations, summed over channels, with no spatial averaging of the gradients.
pub struct HiResCam;

impl CamMethod for HiResCam {
    fn name(&self) -> &'static str {
        "hirescam"
    }

    fn summary(&self) -> &'static str {
        "Gradient times activation at every position: faithful to the score, finer detail."
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        CamWeights::PerElement(s.gradients())
    }
}
