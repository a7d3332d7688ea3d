//! What a map explains, as `xai explain` and `xai sanity` take it: at which layer, which class
//! (or the top-1), and which of its scores (the logit, the probability, or the contrast with
//! another class).

use xai_explain::{CamError, Score, Target};
use xai_model::{Layer, ResNet};

#[derive(clap::Args)]
pub struct TargetArgs {
    /// The layer explained: layer1 (56 x 56 at 224 px) to layer4 (7 x 7: the features the
    /// class is decided from); default: the network's last (layer3 in He et al.'s three-stage
    /// CIFAR ResNets).
    #[arg(long)]
    layer: Option<Layer>,
    /// Class to explain, by number (0-999 for ImageNet; as many as your model has); default: the
    /// top-1 class.
    #[arg(long)]
    pub class: Option<usize>,
    /// Why the class and not this one: explain the class's logit minus this class's.
    #[arg(long, conflicts_with = "probability")]
    versus: Option<usize>,
    /// Explain the class's softmax probability instead of its logit.
    #[arg(long)]
    probability: bool,
}

/// `asked`, if the network has it, else the network's last layer.
pub fn layer_of(asked: Option<Layer>, net: &ResNet) -> Result<Layer, CamError> {
    let layer = asked.unwrap_or(net.last_layer());
    net.architecture().check_layer(layer).map_err(CamError::NoLayer)
}

impl TargetArgs {
    /// The layer asked for, else the network's last.
    pub fn layer(&self, net: &ResNet) -> Result<Layer, CamError> {
        layer_of(self.layer, net)
    }

    pub fn target(&self) -> Target {
        let score = match (self.versus, self.probability) {
            (Some(other), _) => Score::Versus(other),
            (None, true) => Score::Probability,
            (None, false) => Score::Logit,
        };
        Target::chosen(self.class).scoring(score)
    }

    /// What a line about a map adds when it explains more than the logit: ", explaining its
    /// probability", say.
    pub fn explaining(&self) -> String {
        match self.target().score {
            Score::Logit => String::new(),
            score => format!(", explaining its {score}"),
        }
    }
}
