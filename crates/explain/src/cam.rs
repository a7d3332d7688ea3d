//! The pipeline every CAM method shares, after pytorch-grad-cam's `BaseCAM`: take the target
//! layer's activations A (and, where the method asks, the gradient G of each image's target
//! logit with respect to A), let the method weight A, sum over channels (or, with `eigen_smooth`,
//! project on the first principal component), then ReLU. A method is one small definition of
//! its weights: see `methods/`.

use burn::tensor::activation::relu;
use burn::tensor::{Tensor, TensorData};
use xai_model::architecture::CLASSES;
use xai_model::{Layer, ResNet};

use crate::methods;
use crate::projection::first_component;
use crate::readback::ReadbackError;

/// Which class each image's map explains.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Each image's most probable class, decided on the device from the same forward pass.
    TopClass,
    /// One class per image.
    Classes(Vec<usize>),
}

/// What a method sees: the network, the batch, the layer and the target of each image.
pub struct Signals<'a> {
    pub net: &'a ResNet,
    /// The preprocessed batch [N, 3, S, S].
    pub input: &'a Tensor<4>,
    pub layer: Layer,
    /// [N, CLASSES], one at each image's target class.
    pub target: Tensor<2>,
    /// The logits of the pass that produced the activations, [N, CLASSES].
    pub logits: Tensor<2>,
    /// The layer's activations A [N, C, H, W].
    pub activations: Tensor<4>,
    /// dy_c/dA [N, C, H, W], present when the method [`needs_gradients`](CamMethod::needs_gradients).
    pub gradients: Option<Tensor<4>>,
}

impl Signals<'_> {
    pub fn gradients(&self) -> Tensor<4> {
        self.gradients.clone().expect("the pipeline computes gradients for methods that need them")
    }

    /// Image `i`'s target score in each row of `logits` [B, CLASSES], as [B].
    pub fn target_scores(&self, logits: Tensor<2>, i: usize) -> Tensor<1> {
        (logits * self.target.clone().slice_dim(0, i..i + 1)).sum_dim(1).flatten(0, 1)
    }

    /// The FC row of each image's target class, [N, C]: the weights CAM uses.
    pub fn target_fc_rows(&self) -> Tensor<2> {
        fc_rows(self.net, self.target.clone())
    }
}

/// How a method weights the activations before they are summed over channels.
pub enum Weights {
    /// One weight per channel, [N, C] (Grad-CAM and most others).
    PerChannel(Tensor<2>),
    /// One weight per activation, [N, C, H, W] (HiResCAM, LayerCAM).
    PerElement(Tensor<4>),
}

/// One CAM method: its name and how it weights the activations.
pub trait CamMethod: Sync {
    /// The name used on the command line and in share links (pytorch-grad-cam's, lower case).
    fn name(&self) -> &'static str;
    fn needs_gradients(&self) -> bool;
    fn weights(&self, signals: &Signals) -> Weights;
    /// EigenCAM projects on the first principal component whatever the options say.
    fn always_projects(&self) -> bool {
        false
    }
    /// Layers the method is defined at (CAM needs the FC weights, which score layer4 only).
    fn supports(&self, _layer: Layer) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CamError {
    #[error("unknown method '{0}' (valid: {names})", names = method_names().join(", "))]
    UnknownMethod(String),
    #[error("{method} is defined at layer4 only (it uses the FC weights)")]
    Layer { method: &'static str },
    #[error("class {0} does not exist (valid: 0 to 999)")]
    Class(usize),
    #[error("{classes} target classes for {images} images: give one per image")]
    Targets { classes: usize, images: usize },
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// Every method, in the order the UI lists them.
pub fn all_methods() -> &'static [&'static dyn CamMethod] {
    methods::ALL
}

pub fn method_names() -> Vec<&'static str> {
    all_methods().iter().map(|m| m.name()).collect()
}

pub fn method(name: &str) -> Result<&'static dyn CamMethod, CamError> {
    all_methods().iter().copied().find(|m| m.name() == name).ok_or_else(|| CamError::UnknownMethod(name.into()))
}

/// The FC rows [N, C] picked by a one-hot target mask [N, CLASSES].
fn fc_rows(net: &ResNet, mask: Tensor<2>) -> Tensor<2> {
    mask.matmul(net.fc_weight().transpose())
}

/// The target as a one-hot [N, CLASSES] mask, for `logits` [N, CLASSES].
fn target_mask(target: &Target, logits: Tensor<2>) -> Result<Tensor<2>, CamError> {
    let [n, classes] = logits.dims();
    match target {
        Target::TopClass => {
            let top = logits.clone().max_dim(1).expand([n, classes]);
            Ok(logits.equal(top).float())
        }
        Target::Classes(ids) => {
            if ids.len() != n {
                return Err(CamError::Targets { classes: ids.len(), images: n });
            }
            if let Some(&class) = ids.iter().find(|&&c| c >= CLASSES) {
                return Err(CamError::Class(class));
            }
            let mut data = vec![0f32; n * CLASSES];
            for (row, class) in ids.iter().enumerate() {
                data[row * CLASSES + class] = 1.0;
            }
            Ok(Tensor::from_data(TensorData::new(data, [n, CLASSES]), &logits.device()))
        }
    }
}

/// Class activation maps and the logits of the same forward pass.
pub struct Explanation {
    /// [N, H, W] at the layer's resolution, after the ReLU, before normalisation and resizing
    /// (pytorch-grad-cam's `get_cam_image` followed by `np.maximum(cam, 0)`).
    pub maps: Tensor<3>,
    pub logits: Tensor<2>,
}

/// What to explain and how.
#[derive(Clone, Copy)]
pub struct CamRequest<'a> {
    pub layer: Layer,
    pub target: &'a Target,
    pub method: &'a dyn CamMethod,
    /// Project the weighted activations on their first principal component instead of summing.
    pub eigen_smooth: bool,
}

/// Runs the network once up to the request's layer and explains each image's target.
///
/// Gradients: at layer4 they have a closed form, since only the global average pool and the FC
/// layer follow: dy_c/dA_k(i,j) = w_k^c / (H W), so no backward pass runs. Elsewhere the network
/// is split at the layer and the tail is differentiated with burn's autodiff.
pub fn explain(net: &ResNet, input: &Tensor<4>, request: CamRequest) -> Result<Explanation, CamError> {
    let CamRequest { layer, target, method, eigen_smooth } = request;
    if !method.supports(layer) {
        return Err(CamError::Layer { method: method.name() });
    }
    let activations = net.features(input.clone(), layer);
    let [n, c, h, w] = activations.dims();
    let (logits, mask, gradients) = if method.needs_gradients() && layer != Layer::Layer4 {
        let tracked = activations.clone().autodiff().require_grad();
        let logits = net.logits_from(tracked.clone(), layer);
        let mask = target_mask(target, logits.clone().inner())?;
        let score = (logits.clone() * mask.clone().autodiff()).sum();
        let gradients = tracked.grad(&score.backward()).expect("the tail depends on the layer");
        (logits.inner(), mask, Some(gradients))
    } else {
        let logits = net.logits_from(activations.clone(), layer);
        let mask = target_mask(target, logits.clone())?;
        let gradients = method.needs_gradients().then(|| {
            (fc_rows(net, mask.clone()) / (h * w) as f32).reshape([n, c, 1, 1]).expand([n, c, h, w])
        });
        (logits, mask, gradients)
    };
    let signals = Signals { net, input, layer, target: mask, logits: logits.clone(), activations, gradients };
    let weighted = match method.weights(&signals) {
        Weights::PerChannel(w) => signals.activations * w.reshape([n, c, 1, 1]),
        Weights::PerElement(w) => signals.activations * w,
    };
    let maps = if eigen_smooth || method.always_projects() {
        first_component(weighted)
    } else {
        weighted.sum_dim(1).squeeze_dim(1)
    };
    Ok(Explanation { maps: relu(maps), logits })
}
