//! The CAM methods: the trait each one implements, what it is given, and the registry the CLI
//! and the page list. One file per method; each defines only how it weights the target layer's
//! activations (the pipeline that calls them is `crate::pipeline`).

mod ablationcam;
mod cam;
mod eigencam;
mod gradcam;
mod gradcam_plus_plus;
mod hirescam;
mod layercam;
mod scorecam;
mod xgradcam;

use std::ops::Range;

use burn::tensor::Tensor;
use xai_model::architecture::Tail;
use xai_model::{Layer, ResNet};

use crate::budget::images_per_pass;
use crate::pipeline::Score;

/// What a method is given: the network, the batch, the layer and the target of each image.
pub struct MethodInputs<'a> {
    pub net: &'a ResNet,
    /// The preprocessed batch [N, 3, S, S].
    pub input: &'a Tensor<4>,
    pub layer: Layer,
    /// d(score)/d(logits) of each image's target, [N, classes]: for a logit, one at the class.
    pub target: Tensor<2>,
    /// One at each image's target class, [N, classes].
    pub class_mask: Tensor<2>,
    pub score: Score,
    /// The logits of the pass that produced the activations, [N, classes].
    pub logits: Tensor<2>,
    /// The layer's activations A [N, C, H, W].
    pub activations: Tensor<4>,
    /// dy_c/dA [N, C, H, W], present when the method [`needs_gradients`](CamMethod::needs_gradients).
    pub gradients: Option<Tensor<4>>,
}

impl MethodInputs<'_> {
    pub fn gradients(&self) -> Tensor<4> {
        self.gradients.clone().expect("the pipeline computes gradients for methods that need them")
    }

    /// Image `i`'s target score in each row of `logits` `[B, classes]`, as `[B]`.
    pub fn target_scores(&self, logits: Tensor<2>, i: usize) -> Tensor<1> {
        self.scores(logits, i..i + 1)
    }

    /// Each image's target score on the logits of this pass, as `[N]`.
    pub fn pass_scores(&self) -> Tensor<1> {
        self.scores(self.logits.clone(), 0..self.logits.dims()[0])
    }

    /// The score of each row of `logits` for the targets of `images` (one, or one per row). A
    /// logit or a contrast is linear in the logits; the probability is not.
    fn scores(&self, logits: Tensor<2>, images: Range<usize>) -> Tensor<1> {
        let scored = match self.score {
            Score::Probability => xai_model::probabilities(logits) * self.class_mask.clone().slice_dim(0, images),
            Score::Logit | Score::Versus(_) => logits * self.target.clone().slice_dim(0, images),
        };
        scored.sum_dim(1).flatten(0, 1)
    }

    /// The FC weights the target gives each image, [N, C]: the class's row for a logit (the
    /// weights of CAM), the difference of two rows for a contrast; where the head is one Linear.
    pub fn target_fc_rows(&self) -> Option<Tensor<2>> {
        fc_rows(self.net, self.target.clone())
    }
}

/// The FC rows [N, C] weighted by `mask` [N, classes] (a one-hot mask picks one row each),
/// where the head is one Linear on average pooling.
pub(crate) fn fc_rows(net: &ResNet, mask: Tensor<2>) -> Option<Tensor<2>> {
    net.linear_head().map(|weight| mask.matmul(weight))
}

/// How a method weights the activations before they are summed over channels.
pub enum CamWeights {
    /// One weight per channel, [N, C] (Grad-CAM and most others).
    PerChannel(Tensor<2>),
    /// One weight per activation, [N, C, H, W] (HiResCAM, LayerCAM).
    PerElement(Tensor<4>),
}

/// One CAM method: its name and how it weights the activations.
pub trait CamMethod: Sync {
    /// The name used on the command line and in share links (pytorch-grad-cam's, lower case).
    fn name(&self) -> &'static str;
    /// One line for a person choosing a method: what it computes and when to prefer it.
    fn summary(&self) -> &'static str;
    fn needs_gradients(&self) -> bool;
    fn weights(&self, inputs: &MethodInputs) -> CamWeights;
    /// EigenCAM projects on the first principal component whatever the options say.
    fn always_projects(&self) -> bool {
        false
    }
    /// Whether it weights the activations by the head's own (CAM): defined at the last layer
    /// only, before a head of one Linear on average pooling.
    fn reads_the_head(&self) -> bool {
        false
    }
    /// Whether it is defined at `layer` of a network that ends in `tail`.
    fn supports(&self, layer: Layer, tail: Tail) -> bool {
        !self.reads_the_head() || (layer == tail.last && tail.linear_head)
    }
    /// Whether it runs passes of its own beyond the shared one (hundreds, for Score-CAM and
    /// Ablation-CAM): the compare view runs those only on request.
    fn runs_own_passes(&self) -> bool {
        self.channel_scoring().is_some()
    }
    /// How a method that runs passes of its own scores the layer's channels.
    fn channel_scoring(&self) -> Option<&dyn ChannelScoring> {
        None
    }
}

/// A method that runs passes of its own: it scores the layer's channels a batch at a time, then
/// turns every channel's score into its weight. [`CamMethod::weights`] does both at once
/// (`score_channels`); `crate::channels` runs one batch at a time, for progress and a cancel.
pub trait ChannelScoring {
    /// Channels per batch at most, for the smallest inputs.
    fn most_per_batch(&self) -> usize;
    /// Channels per batch for this input size (fewer for large inputs: `crate::budget`).
    fn batch(&self, s: &MethodInputs) -> usize {
        let [_, _, height, width] = s.input.dims();
        images_per_pass(height, width, self.most_per_batch())
    }
    /// Image `i`'s scores for `channels`, `[channels.len()]`.
    fn scores(&self, s: &MethodInputs, i: usize, channels: Range<usize>) -> Tensor<1>;
    /// The weights [N, C] from every channel's scores [N, C].
    fn weights_from(&self, s: &MethodInputs, scores: Tensor<2>) -> Tensor<2>;
}

/// Every image's channels scored a batch at a time, then weighted.
pub(crate) fn score_channels(scoring: &dyn ChannelScoring, s: &MethodInputs) -> CamWeights {
    let [n, c, _, _] = s.activations.dims();
    let batch = scoring.batch(s);
    let scores = (0..n).map(|i| {
        let batches = (0..c).step_by(batch).map(|start| scoring.scores(s, i, start..(start + batch).min(c)));
        Tensor::cat(batches.collect(), 0)
    });
    CamWeights::PerChannel(scoring.weights_from(s, Tensor::stack(scores.collect(), 0)))
}

static ALL: &[&dyn CamMethod] = &[
    &gradcam::GradCam,
    &gradcam_plus_plus::GradCamPlusPlus,
    &hirescam::HiResCam,
    &xgradcam::XGradCam,
    &layercam::LayerCam,
    &eigencam::EigenCam,
    &scorecam::ScoreCam,
    &ablationcam::AblationCam,
    &cam::Cam,
];

/// Every method, in the order the UI lists them.
pub fn all() -> &'static [&'static dyn CamMethod] {
    ALL
}

pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|m| m.name()).collect()
}

/// The methods one shared pass explains at `layer` of a network that ends in `tail`, in the UI's
/// order.
pub fn one_pass(layer: Layer, tail: Tail) -> Vec<&'static dyn CamMethod> {
    ALL.iter().copied().filter(|m| !m.runs_own_passes() && m.supports(layer, tail)).collect()
}

/// The method called `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static dyn CamMethod> {
    ALL.iter().copied().find(|m| m.name() == name)
}
