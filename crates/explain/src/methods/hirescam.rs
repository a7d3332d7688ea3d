use crate::cam::{CamMethod, Signals, Weights};

/// HiResCAM: Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of
/// convolutional neural networks" (2020), eq. 4: the element-wise product of gradients and
/// activations, summed over channels, with no spatial averaging of the gradients.
pub struct HiResCam;

impl CamMethod for HiResCam {
    fn name(&self) -> &'static str {
        "hirescam"
    }

    fn needs_gradients(&self) -> bool {
        true
    }

    fn weights(&self, s: &Signals) -> Weights {
        Weights::PerElement(s.gradients())
    }
}
