//! The pipeline every CAM method shares, after pytorch-grad-cam's `BaseCAM`: take the target
//! layer's activations A (and, where the method asks, the gradient G of each image's target
//! logit with respect to A), let the method weight A, sum over channels (or, with `eigen_smooth`,
//! project on the first principal component), then ReLU. A method is one small definition of
//! its weights: see `methods/`.

use burn::tensor::activation::relu;
use burn::tensor::{Tensor, TensorData};
use xai_model::architecture::Tail;
use xai_model::{Layer, ResNet};

use crate::methods::{self, fc_rows, CamMethod, CamWeights, MethodInputs};
use crate::projection::first_component;
use crate::readback::ReadbackError;

/// What each image's map explains: which class, and which of its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// One class per image; `None` is each image's most probable class, decided on the device
    /// from the same forward pass.
    pub classes: Option<Vec<usize>>,
    pub score: Score,
}

impl Target {
    /// Each image's most probable class, by its logit.
    pub const TOP_CLASS: Target = Target { classes: None, score: Score::Logit };

    /// One image's `class`, or its most probable class.
    pub fn chosen(class: Option<usize>) -> Self {
        Self { classes: class.map(|class| vec![class]), ..Self::TOP_CLASS }
    }

    pub fn classes(classes: Vec<usize>) -> Self {
        Self { classes: Some(classes), ..Self::TOP_CLASS }
    }

    pub fn scoring(self, score: Score) -> Self {
        Self { score, ..self }
    }
}

/// Which score of the target class a map explains: what the gradient methods differentiate and
/// what Score-CAM and Ablation-CAM measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    /// The class's logit (pytorch-grad-cam's `ClassifierOutputTarget`).
    #[default]
    Logit,
    /// Its softmax probability (`ClassifierOutputSoftmaxTarget`): what makes the photo this class
    /// rather than any other.
    Probability,
    /// Its logit minus the logit of this other class: why the class and not that one.
    Versus(usize),
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Score::Logit => write!(f, "logit"),
            Score::Probability => write!(f, "probability"),
            Score::Versus(other) => write!(f, "logit minus the logit of class {other}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CamError {
    #[error("unknown method '{0}' (valid: {names})", names = methods::names().join(", "))]
    UnknownMethod(String),
    #[error("{method} is defined at the last layer only, {last} here (it uses the FC weights, which score it)")]
    Layer { method: &'static str, last: Layer },
    #[error("{method} reads the weights of a head of one Linear on average pooling, and this model's is {head}: choose another method")]
    Head { method: &'static str, head: String },
    #[error("{0}")]
    NoLayer(String),
    #[error("class {class} does not exist (valid: 0 to {last})", last = classes - 1)]
    Class { class: usize, classes: usize },
    #[error("{classes} target classes for {images} images: give one per image")]
    Targets { classes: usize, images: usize },
    #[error("{0} needs no passes of its own: it is explained with the others, from one pass")]
    NoOwnPasses(&'static str),
    #[error("class {0} against itself explains nothing: choose another class to contrast with")]
    VersusItself(usize),
    #[error("the random-class check needs a class besides the ones explained, and this model has {0}")]
    NoOtherClass(usize),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// The method called `name`, or an error that lists the valid names.
pub fn method(name: &str) -> Result<&'static dyn CamMethod, CamError> {
    methods::by_name(name).ok_or_else(|| CamError::UnknownMethod(name.into()))
}

/// The target of each image as a one-hot [N, classes] mask of its class, and the derivative of
/// its score with respect to the logits, [N, classes]: the mask itself for the logit, the mask
/// minus the other class's for a contrast, p_c (mask - p) for the probability p_c = softmax_c.
fn target_weights(target: &Target, logits: Tensor<2>) -> Result<(Tensor<2>, Tensor<2>), CamError> {
    let [n, classes] = logits.dims();
    let one_hot = |ids: &[usize]| {
        if let Some(&class) = ids.iter().find(|&&c| c >= classes) {
            return Err(CamError::Class { class, classes });
        }
        let mut data = vec![0f32; n * classes];
        for (row, class) in ids.iter().enumerate() {
            data[row * classes + class] = 1.0;
        }
        Ok(Tensor::from_data(TensorData::new(data, [n, classes]), &logits.device()))
    };
    let mask = match &target.classes {
        None => {
            let top = logits.clone().max_dim(1).expand([n, classes]);
            logits.clone().equal(top).float()
        }
        Some(ids) if ids.len() != n => return Err(CamError::Targets { classes: ids.len(), images: n }),
        Some(ids) => one_hot(ids)?,
    };
    let weights = match target.score {
        Score::Logit => mask.clone(),
        Score::Versus(other) => {
            if target.classes.as_ref().is_some_and(|ids| ids.contains(&other)) {
                return Err(CamError::VersusItself(other));
            }
            mask.clone() - one_hot(&vec![other; n])?
        }
        Score::Probability => {
            let probabilities = xai_model::probabilities(logits);
            let own = (probabilities.clone() * mask.clone()).sum_dim(1);
            (mask.clone() - probabilities) * own
        }
    };
    Ok((mask, weights))
}

/// Class activation maps and the logits of the same forward pass, still on the device.
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

/// The method called `name`, or with `all` every method one shared pass explains at `layer` of
/// a network that ends in `tail` (all but Score-CAM and Ablation-CAM), as the CLI's `--method`
/// takes them.
pub fn methods_named(name: &str, layer: Layer, tail: Tail) -> Result<Vec<&'static dyn CamMethod>, CamError> {
    match name {
        "all" => Ok(methods::one_pass(layer, tail)),
        name => Ok(vec![method(name)?]),
    }
}

/// The logits [N, classes] of one pass, and what the target makes of them ([`target_weights`]).
struct Targeted {
    logits: Tensor<2>,
    mask: Tensor<2>,
    weights: Tensor<2>,
}

impl Targeted {
    fn new(logits: Tensor<2>, target: &Target) -> Result<Self, CamError> {
        let (mask, weights) = target_weights(target, logits.clone())?;
        Ok(Self { logits, mask, weights })
    }
}

/// The logits and target, and d(score)/dA `[N, C, H, W]` for the target of each image, from
/// `activations` of `layer`.
///
/// At the last layer (layer4, or a CIFAR ResNet's layer3) of a network whose head is one Linear
/// the gradient has a closed form, since only the global average pool and the FC layer follow:
/// dy_c/dA_k(i,j) = w_k^c / (H W), so no backward pass runs (and a score that is not a logit
/// only weighs the FC rows differently, by d(score)/d(logits)). Elsewhere (and after fastai's
/// head) the network is split at the layer and the tail is differentiated with burn's autodiff.
fn logits_and_gradients(
    net: &ResNet,
    activations: &Tensor<4>,
    layer: Layer,
    target: &Target,
) -> Result<(Targeted, Tensor<4>), CamError> {
    if layer == net.last_layer() && net.linear_head().is_some() {
        let [n, c, h, w] = activations.dims();
        let targeted = Targeted::new(net.logits_from(activations.clone(), layer), target)?;
        let rows = fc_rows(net, targeted.weights.clone()).expect("the head is one Linear");
        let gradients = (rows / (h * w) as f32).reshape([n, c, 1, 1]).expand([n, c, h, w]);
        return Ok((targeted, gradients));
    }
    autodiff_gradients(net, activations, layer, target)
}

/// [`logits_and_gradients`] through burn's autodiff, at any layer. The score's derivative with
/// respect to the logits is taken at this pass's logits and held constant, so the chain rule
/// gives the gradient of the score itself.
fn autodiff_gradients(
    net: &ResNet,
    activations: &Tensor<4>,
    layer: Layer,
    target: &Target,
) -> Result<(Targeted, Tensor<4>), CamError> {
    let tracked = activations.clone().autodiff().require_grad();
    let logits = net.logits_from(tracked.clone(), layer);
    let targeted = Targeted::new(logits.clone().inner(), target)?;
    let score = (logits * targeted.weights.clone().autodiff()).sum();
    let gradients = tracked.grad(&score.backward()).expect("the tail depends on the layer");
    Ok((targeted, gradients))
}

/// What every method weighs: the layer's activations, the logits and the target from one
/// forward pass, and with `gradients` d(score)/dA from at most one backward pass.
pub(crate) fn method_inputs<'a>(
    net: &'a ResNet,
    input: &'a Tensor<4>,
    layer: Layer,
    target: &Target,
    gradients: bool,
) -> Result<MethodInputs<'a>, CamError> {
    net.architecture().check_layer(layer).map_err(CamError::NoLayer)?;
    let activations = net.features(input.clone(), layer);
    let (targeted, gradients) = if gradients {
        let (targeted, gradients) = logits_and_gradients(net, &activations, layer, target)?;
        (targeted, Some(gradients))
    } else {
        (Targeted::new(net.logits_from(activations.clone(), layer), target)?, None)
    };
    let Targeted { logits, mask, weights } = targeted;
    Ok(MethodInputs {
        net,
        input,
        layer,
        target: weights,
        class_mask: mask,
        score: target.score,
        logits,
        activations,
        gradients,
    })
}

/// `method`'s maps: the activations as it weights them, summed over channels (or projected on
/// their first principal component), then the ReLU.
fn cam(method: &dyn CamMethod, inputs: &MethodInputs, eigen_smooth: bool) -> Tensor<3> {
    weighted_maps(method.weights(inputs), inputs, eigen_smooth || method.always_projects())
}

/// The activations weighted by `weights`, summed over channels (or with `project`, projected on
/// their first principal component), then the ReLU.
pub(crate) fn weighted_maps(weights: CamWeights, inputs: &MethodInputs, project: bool) -> Tensor<3> {
    let [n, c, _, _] = inputs.activations.dims();
    let weighted = match weights {
        CamWeights::PerChannel(w) => inputs.activations.clone() * w.reshape([n, c, 1, 1]),
        CamWeights::PerElement(w) => inputs.activations.clone() * w,
    };
    let maps = if project { first_component(weighted) } else { weighted.sum_dim(1).squeeze_dim(1) };
    relu(maps)
}

/// Runs the network once up to the request's layer and explains each image's target.
pub fn explain(net: &ResNet, input: &Tensor<4>, request: CamRequest) -> Result<Explanation, CamError> {
    let CamRequest { layer, target, method, eigen_smooth } = request;
    Ok(explain_each(net, input, layer, target, &[method], eigen_smooth)?.remove(0))
}

/// Each of `methods` for the same layer and target, from one forward pass and at most one
/// backward pass, which the gradient methods share (EigenCAM needs none, and at layer4 the
/// gradient has a closed form). Score-CAM and Ablation-CAM still add their own batched passes.
/// One explanation per method, in order.
pub fn explain_each(
    net: &ResNet,
    input: &Tensor<4>,
    layer: Layer,
    target: &Target,
    methods: &[&dyn CamMethod],
    eigen_smooth: bool,
) -> Result<Vec<Explanation>, CamError> {
    let tail = net.tail();
    if let Some(method) = methods.iter().find(|method| !method.supports(layer, tail)) {
        return Err(match layer == tail.last {
            true => CamError::Head { method: method.name(), head: net.architecture().head.to_string() },
            false => CamError::Layer { method: method.name(), last: tail.last },
        });
    }
    let gradients = methods.iter().any(|method| method.needs_gradients());
    let inputs = method_inputs(net, input, layer, target, gradients)?;
    let explanations = methods
        .iter()
        .map(|method| Explanation { maps: cam(*method, &inputs, eigen_smooth), logits: inputs.logits.clone() });
    Ok(explanations.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{network, photos};
    use burn::tensor::Tolerance;

    #[test]
    fn closed_form_layer4_gradients_equal_autodiff() {
        let net = network();
        let activations = net.features(photos(2), Layer::Layer4);
        let targets = [
            Target::TOP_CLASS,
            Target::classes(vec![3, 998]),
            Target::TOP_CLASS.scoring(Score::Probability),
            Target::classes(vec![3, 998]).scoring(Score::Versus(5)),
        ];
        for target in targets {
            let (closed, closed_gradients) = logits_and_gradients(&net, &activations, Layer::Layer4, &target).unwrap();
            let (auto, autodiff) = autodiff_gradients(&net, &activations, Layer::Layer4, &target).unwrap();
            let largest = closed_gradients.clone().abs().max().into_scalar::<f32>();
            assert!(largest > 0.0, "the gradients are not all zero");
            let tolerance = Tolerance::rel_abs(1e-4, 1e-4 * largest as f64);
            closed_gradients.into_data().assert_approx_eq::<f32>(&autodiff.into_data(), tolerance);
            closed.logits.into_data().assert_approx_eq::<f32>(&auto.logits.into_data(), Tolerance::rel_abs(1e-5, 1e-5));
            closed.mask.into_data().assert_eq(&auto.mask.into_data(), true);
        }
    }

    #[test]
    fn after_fastais_head_gradients_come_from_autodiff_and_cam_is_refused() {
        use xai_model::architecture::Head;
        use xai_model::{Architecture, NetworkParams, Preprocessing, ResNet};
        let mut architecture = Architecture::named("resnet18", 5).unwrap();
        architecture.head = Head { max_and_average: true, hidden: vec![64] };
        let net = ResNet::new(
            &NetworkParams::patterned(architecture),
            Preprocessing::IMAGENET,
            &burn::tensor::Device::flex(),
        );
        let input = photos(1);
        let activations = net.features(input.clone(), Layer::Layer4);
        let (_, gradients) = logits_and_gradients(&net, &activations, Layer::Layer4, &Target::TOP_CLASS).unwrap();
        let (_, autodiff) = autodiff_gradients(&net, &activations, Layer::Layer4, &Target::TOP_CLASS).unwrap();
        gradients.into_data().assert_eq(&autodiff.into_data(), true);
        // A map the same at every position scores as DFF's concepts do.
        let channels = activations.clone().mean_dims(&[2, 3]).flatten(1, 3);
        let uniform = channels.clone().reshape([1, 512, 1, 1]).expand([1, 512, 2, 2]);
        net.classify_uniform(channels).into_data().assert_approx_eq::<f32>(
            &net.logits_from(uniform, Layer::Layer4).into_data(),
            Tolerance::rel_abs(1e-5, 1e-5),
        );
        let cam = CamRequest {
            layer: Layer::Layer4,
            target: &Target::TOP_CLASS,
            method: method("cam").unwrap(),
            eigen_smooth: false,
        };
        let error = explain(&net, &input, cam).err().unwrap().to_string();
        assert!(error.starts_with("cam reads the weights of a head of one Linear on average pooling, and this model's is a head of max and average pooling and a hidden Linear of 64"), "{error}");
        assert!(!methods::one_pass(Layer::Layer4, net.tail()).iter().any(|m| m.name() == "cam"));
        assert_eq!(methods::one_pass(Layer::Layer4, net.tail()).len(), 6);
    }

    #[test]
    fn a_head_of_one_output_is_explained_through_its_sigmoid() {
        // A binary classifier's softmax is 1 whatever its logit, and its gradient 0.
        use xai_model::{Architecture, NetworkParams, Preprocessing, ResNet};
        let architecture = Architecture { classes: 1, ..Architecture::keras_resnet50() };
        let net =
            ResNet::new(&NetworkParams::patterned(architecture), Preprocessing::Caffe, &burn::tensor::Device::flex());
        let activations = net.features(photos(2), Layer::Layer4);
        let target = Target::TOP_CLASS.scoring(Score::Probability);
        let (_, closed) = logits_and_gradients(&net, &activations, Layer::Layer4, &target).unwrap();
        let (_, autodiff) = autodiff_gradients(&net, &activations, Layer::Layer4, &target).unwrap();
        let largest = closed.clone().abs().max().into_scalar::<f32>();
        assert!(largest > 0.0, "the gradients are not all zero");
        closed
            .into_data()
            .assert_approx_eq::<f32>(&autodiff.into_data(), Tolerance::rel_abs(1e-4, 1e-4 * largest as f64));
    }

    #[test]
    fn one_pass_for_every_method_gives_each_method_s_own_maps() {
        let net = network();
        let input = photos(2);
        let cheap: Vec<&dyn CamMethod> = methods::all()
            .iter()
            .copied()
            .filter(|m| !["scorecam", "ablationcam", "cam"].contains(&m.name()))
            .collect();
        for layer in [Layer::Layer3, Layer::Layer4] {
            let target = Target::classes(vec![3, 998]);
            let together = explain_each(&net, &input, layer, &target, &cheap, false).unwrap();
            for (method, shared) in cheap.iter().zip(together) {
                let alone =
                    explain(&net, &input, CamRequest { layer, target: &target, method: *method, eigen_smooth: false })
                        .unwrap();
                assert!(alone.maps.clone().max().into_scalar::<f32>() > 0.0, "{} maps nothing", method.name());
                // The same arithmetic on the same tensors: equal, which is stronger than r >= 0.9999.
                alone
                    .maps
                    .into_data()
                    .assert_approx_eq::<f32>(&shared.maps.into_data(), Tolerance::rel_abs(1e-6, 1e-7));
            }
        }
    }

    #[test]
    fn a_bad_target_is_refused_before_any_work() {
        let net = network();
        let request = |target| CamRequest {
            layer: Layer::Layer3,
            target,
            method: method("gradcam").unwrap(),
            eigen_smooth: false,
        };
        let too_many = Target::classes(vec![1, 2]);
        assert!(matches!(
            explain(&net, &photos(1), request(&too_many)),
            Err(CamError::Targets { classes: 2, images: 1 })
        ));
        let absent = Target::classes(vec![1000]);
        let error = explain(&net, &photos(1), request(&absent)).err().unwrap();
        assert_eq!(error.to_string(), "class 1000 does not exist (valid: 0 to 999)");
        let itself = Target::classes(vec![7]).scoring(Score::Versus(7));
        assert_eq!(explain(&net, &photos(1), request(&itself)).err(), Some(CamError::VersusItself(7)));
        let absent = Target::TOP_CLASS.scoring(Score::Versus(1000));
        assert!(matches!(explain(&net, &photos(1), request(&absent)), Err(CamError::Class { class: 1000, .. })));
        let cam = CamRequest { method: method("cam").unwrap(), ..request(&Target::TOP_CLASS) };
        assert!(matches!(explain(&net, &photos(1), cam), Err(CamError::Layer { method: "cam", last: Layer::Layer4 })));
    }
}
