use xai_model::Layer;

use crate::cam::{CamMethod, Signals, Weights};

/// CAM: Zhou et al., "Learning Deep Features for Discriminative Localization" (CVPR 2016),
/// eq. 2: M_c(x, y) = sum_k w_k^c f_k(x, y), with w^c the FC weights of class c.
pub struct Cam;

impl CamMethod for Cam {
    fn name(&self) -> &'static str {
        "cam"
    }

    fn needs_gradients(&self) -> bool {
        false
    }

    fn weights(&self, s: &Signals) -> Weights {
        Weights::PerChannel(s.target_fc_rows())
    }

    fn supports(&self, layer: Layer) -> bool {
        layer == Layer::Layer4
    }
}
