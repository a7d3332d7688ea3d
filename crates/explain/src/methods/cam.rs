use super::{CamMethod, CamWeights, MethodInputs};

/// CAM: Zhou et al., "Learning Deep Features for Discriminative Localization" (CVPR 2016),
/// eq. 2: M_c(x, y) = sum_k w_k^c f_k(x, y), with w^c the FC weights of class c.
pub struct Cam;

impl CamMethod for Cam {
    fn name(&self) -> &'static str {
        "cam"
    }

    fn summary(&self) -> &'static str {
        "The FC head's weights on the last layer (layer4, or layer3 of a CIFAR ResNet), the original CAM: that layer only."
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &MethodInputs) -> CamWeights {
        CamWeights::PerChannel(s.target_fc_rows().expect("CAM runs where the head is one Linear (`supports`)"))
    }

    fn reads_the_head(&self) -> bool {
        true
    }
}
