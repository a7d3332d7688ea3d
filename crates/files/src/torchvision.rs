//! Import of torchvision ResNets from a `state_dict` (as `.pth` or `.safetensors` hold it): the
//! architecture is recognised from the tensors' names and shapes, and each BatchNorm (epsilon
//! 1e-5, torchvision's) is folded into the conv before it: w' = w s, b' = (b - mean) s + beta,
//! s = gamma / sqrt(var + eps).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::architecture::{
    variant_names, Architecture, Block, ConvSpec, Head, Layout, Order, Shortcuts, Stem, VARIANTS,
};
use crate::preprocessing::{rounded, MEANS, STDS};
use crate::weights::{LayerParams, NetworkParams};

/// torchvision's `nn.BatchNorm2d` default.
const BATCH_NORM_EPSILON: f32 = 1e-5;

/// A float tensor of a state dict, as f32 whatever it was stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A model's floating-point tensors by name (integer buffers such as BatchNorm's
/// `num_batches_tracked` are left out), with any nesting prefix still on.
pub type StateDict = BTreeMap<String, FloatTensor>;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    #[error("not a torchvision ResNet: it looks like {0}. Supported: {supported}", supported = supported())]
    NotResNet(String),
    #[error("a ResNet of {0} is none of the supported variants ({supported})", supported = supported())]
    UnknownVariant(String),
    #[error("the file holds a {found}, not the {asked} asked for with --arch")]
    OtherArchitecture { found: &'static str, asked: String },
    #[error("unknown architecture '{0}' (valid: {supported})", supported = supported())]
    UnknownArchitecture(String),
    #[error("the head ('fc') scores 0 classes: there is nothing to explain")]
    NoClasses,
    #[error(
        "the head ('fc') is a Sequential with weights in {0}: only a Linear, alone or after layers without weights (Dropout, ReLU), is read"
    )]
    Head(String),
    #[error("tensor '{0}' is missing")]
    Missing(String),
    #[error(
        "no head: tensor 'fc.weight' is missing (is fc an nn.Identity, the head another module? xai reads the ResNet's own fc, or the one Linear beside it)"
    )]
    NoHead,
    #[error(
        "no head of its own ('fc'), and beside it {count} tensors that are not one Linear's, such as '{first}': xai reads the ResNet's own fc, or the one Linear beside it"
    )]
    HeadBeside { count: usize, first: String },
    #[error("{0}: xai reads torchvision's plain ResNets")]
    NotPlain(String),
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?} for a {architecture}")]
    WrongShape { name: String, found: Vec<usize>, expected: Vec<usize>, architecture: &'static str },
    #[error("tensor '{0}' holds NaN or infinite values")]
    NotFinite(String),
    #[error("BatchNorm '{0}' folds into NaN or infinite weights: is a running_var negative?")]
    BadBatchNorm(String),
    #[error("{0}: give the mean and std the model takes (`xai convert --mean R,G,B --std R,G,B`, or the page's conversion options)")]
    Normalization(String),
}

fn supported() -> String {
    variant_names().into_iter().filter(|n| !n.contains("keras")).collect::<Vec<_>>().join(", ")
}

/// The prefixes in front of each network's own names: `state_dict.`, `model.` or
/// `model_state_dict.` in a training checkpoint, `module.` from DataParallel, or none; a
/// checkpoint may hold a second copy (`ema.`, `model_ema.`).
pub fn roots(state: &StateDict) -> Vec<&str> {
    let heads: Vec<&str> = state
        .keys()
        .filter_map(|k| k.strip_suffix("fc.weight"))
        .filter(|p| state.contains_key(&format!("{p}conv1.weight")))
        .collect();
    match heads.is_empty() {
        true => state.keys().filter_map(|k| k.strip_suffix("layer1.0.conv1.weight")).collect(),
        false => heads,
    }
}

/// The network converted: of those with BatchNorm statistics (not a mirror of its names, such as
/// saved gradients), the first not named a copy (an EMA one, the robustness library's
/// attacker's): the one trained, else the first.
pub fn root(state: &StateDict) -> Option<&str> {
    let roots = whole_roots(state);
    roots.iter().find(|p| !(is_ema(p) || named(p, "attacker"))).or(roots.first()).copied()
}

/// [`roots`] with BatchNorm statistics, where any has them.
fn whole_roots(state: &StateDict) -> Vec<&str> {
    let roots = roots(state);
    let whole: Vec<&str> =
        roots.iter().copied().filter(|p| state.contains_key(&format!("{p}bn1.running_mean"))).collect();
    match whole.is_empty() {
        true => roots,
        false => whole,
    }
}

/// Whether a prefix names `word` (`state_dict_ema.` and `ema.` name "ema"; `schema.` does not).
fn named(prefix: &str, word: &str) -> bool {
    prefix.to_ascii_lowercase().split(['.', '_']).any(|w| w == word)
}

/// Whether a network's prefix names it an EMA copy.
pub fn is_ema(prefix: &str) -> bool {
    named(prefix, "ema")
}

/// The state dict with its EMA copy of the network (timm's `state_dict_ema.`, a `model_ema.`)
/// as the one converted: the other copies' tensors (the network trained) left out, what sits
/// beside them kept. With the copy's prefix and those left out; `None` where no copy is an EMA one.
pub fn keep_ema(state: StateDict) -> Option<(StateDict, String, Vec<String>)> {
    let roots: Vec<String> = roots(&state).into_iter().map(String::from).collect();
    let ema = whole_roots(&state).into_iter().find(|p| is_ema(p))?.to_string();
    let others: Vec<String> = roots.iter().filter(|r| **r != ema).cloned().collect();
    // Each tensor is its longest root's: `ema.` within a model whose own names have no prefix.
    let owner = |k: &str| roots.iter().filter(|r| k.starts_with(r.as_str())).max_by_key(|r| r.len());
    let kept = state.into_iter().filter(|(k, _)| owner(k).is_none_or(|r| *r == ema)).collect();
    Some((kept, ema, others))
}

/// What a state dict that is not a ResNet looks like, for the error message.
fn look_of(state: &StateDict) -> String {
    let has = |part: &str| state.keys().any(|k| k.contains(part));
    if has("denseblock") {
        "a DenseNet".into()
    } else if has("features.") && has("classifier.") {
        "a VGG, AlexNet, MobileNet, EfficientNet or ConvNeXt (layers named 'features' and 'classifier')".into()
    } else if has("patch_embed") || has("class_token") || has("encoder.layers") {
        "a vision transformer".into()
    } else if has("inverted_residual") || has("features.1.conv") {
        "a MobileNet".into()
    } else if state.is_empty() {
        "nothing: it holds no floating-point tensors".into()
    } else {
        let first: Vec<&str> = state.keys().take(3).map(String::as_str).collect();
        format!("another network (its first tensors: {})", first.join(", "))
    }
}

/// The state dict's names without their prefix, a head of one Linear in a Sequential read as
/// `fc` ([`sequential_head`]), a Linear after the ResNet folded into it ([`head_after`]).
fn strip(state: &StateDict) -> Result<(StateDict, Naming), ImportError> {
    if let Some(why) = saved_in_parts(state) {
        return Err(ImportError::NotPlain(why));
    }
    let prefix = root(state).ok_or_else(|| ImportError::NotResNet(look_of(state)))?;
    let naming = Naming::of(state, prefix);
    let mut own: StateDict =
        state.iter().filter_map(|(k, v)| Some((naming.torchvision(k.strip_prefix(prefix)?), v.clone()))).collect();
    if let Some(why) = not_plain(&own) {
        return Err(ImportError::NotPlain(why));
    }
    sequential_head(&mut own)?;
    head_after(state, prefix, &mut own)?;
    if !own.contains_key("fc.weight") {
        match head_beside(state) {
            Ok(None) => {} // said missing where the head is read
            Ok(Some(module)) => {
                for param in ["weight", "bias"] {
                    own.extend(state.get(&format!("{module}.{param}")).map(|t| (format!("fc.{param}"), t.clone())));
                }
            }
            Err(beside) => return Err(ImportError::HeadBeside { count: beside.len(), first: beside[0].clone() }),
        }
    }
    Ok((own, naming))
}

/// The head of a model made of a ResNet without one of its own (no `fc`, or an Identity) and a
/// Linear beside it, as mmpretrain (`backbone.` and `head.fc.`) and many training scripts
/// (`backbone.` and `classifier.`) save them: `Ok` with its name (`head.fc`) where all that
/// sits beside the network (but a normalisation read) is one matrix `weight` and its `bias`,
/// else `Err` with what does (a cosine head's scale, a BatchNorm's statistics, a second layer);
/// `Ok(None)` where the network has a head of its own, or nothing beside it.
pub fn head_beside(state: &StateDict) -> Result<Option<String>, Vec<&String>> {
    let Some(prefix) = root(state) else { return Ok(None) };
    let naming = Naming::of(state, prefix);
    if state.keys().filter_map(|k| k.strip_prefix(prefix)).any(|k| naming.torchvision(k).starts_with("fc.")) {
        return Ok(None);
    }
    // A Sequential's layer after it is read by [`head_after`].
    let Some((parent, _)) = place(prefix).filter(|(_, place)| place.parse::<usize>().is_err()) else {
        return Ok(None);
    };
    let networks = roots(state);
    let normalising: HashSet<&str> = normalizers(state, prefix).into_iter().flat_map(|saved| saved.keys).collect();
    let beside: Vec<&String> = state
        .keys()
        .filter(|k| {
            k.starts_with(&parent)
                && !networks.iter().any(|network| k.starts_with(network))
                && !normalising.contains(k.as_str())
        })
        .collect();
    let Some(module) = beside.iter().find_map(|k| k.strip_suffix(".weight")) else {
        return if beside.is_empty() { Ok(None) } else { Err(beside) };
    };
    let linear = state[&format!("{module}.weight")].shape.len() == 2
        && state.get(&format!("{module}.bias")).is_none_or(|bias| bias.shape.len() == 1)
        && beside.iter().all(|k| k.strip_prefix(module).is_some_and(|p| p == ".weight" || p == ".bias"));
    if linear {
        Ok(Some(module.to_string()))
    } else {
        Err(beside)
    }
}

/// A Hugging Face transformers ResNet (`ResNetForImageClassification`, as the Hub and its
/// Trainer save it) under torchvision's names, which are its layers': `resnet.embedder.embedder`
/// is the stem (`conv1`, `bn1`), `resnet.encoder.stages.S.layers.B.layer.I` block B's conv I+1
/// of stage S+1, its `shortcut` the block's `downsample`, its `classifier` (a Sequential of a
/// Flatten and a Linear) the `fc`; the network sits where its `resnet.` was (`model.resnet.` is
/// read as `model.`), each copy of it (a model and its EMA copy) in its place. Whether it was
/// one; any other state dict is given back as it is.
pub fn from_hugging_face(state: StateDict) -> (StateDict, bool) {
    const STEM: &str = "embedder.embedder.convolution.weight";
    let mut networks: Vec<String> = state.keys().filter_map(|k| k.strip_suffix(STEM)).map(String::from).collect();
    if networks.is_empty() {
        return (state, false);
    }
    // The longest first: `ema.resnet.` before `resnet.`, whose parent is a prefix of both.
    networks.sort_by_key(|network| std::cmp::Reverse(network.len()));
    let renamed = state
        .into_iter()
        .map(|(k, v)| (networks.iter().find_map(|network| hugging_face_name(&k, network)).unwrap_or(k), v))
        .collect();
    (renamed, true)
}

/// A ResNet rebuilt from its children in a Sequential, as fine-tuning scripts often make one
/// (`nn.Sequential(*list(resnet.children())[:-1], nn.Flatten(), nn.Linear(512, k))`), under
/// torchvision's names: its `0` is `conv1`, its `1` `bn1`, its stages of blocks, in a row after
/// them (`4` to `7`), `layer1` on, and the one Linear after those `fc`. So too fastai's xresnet
/// (an nn.Sequential itself: `Children::XResNet`) under timm's ResNet-D names. Any other state
/// dict is given back as it is; a Sequential with more layers of weights after the blocks is
/// refused.
pub fn from_children(state: StateDict) -> Result<StateDict, ImportError> {
    // Each as (the module's name in the file, its name in torchvision's ResNet).
    let mut renames: Vec<(String, String)> = Vec::new();
    // The Sequentials whose blocks are xresnet's, renamed inside once they are `layerN`.
    let mut xresnets: Vec<String> = Vec::new();
    let candidates = state.keys().flat_map(|k| {
        [(k.strip_suffix("0.weight"), Children::Torchvision), (k.strip_suffix("0.0.weight"), Children::XResNet)]
    });
    for (sequential, children_kind) in candidates.filter_map(|(sequential, kind)| Some((sequential?, kind))) {
        if !(sequential.is_empty() || sequential.ends_with('.')) || !children_kind.is_stem(&state, sequential) {
            continue;
        }
        let children: BTreeSet<usize> =
            state.keys().filter_map(|k| k.strip_prefix(sequential)?.split_once('.')?.0.parse().ok()).collect();
        let block = children_kind.block_tensor();
        let blocks: Vec<usize> =
            children.iter().copied().filter(|i| state.contains_key(&format!("{sequential}{i}.{block}"))).collect();
        // After the stem, its ReLU and max pool hold no tensors: the blocks come next, in a row.
        let (Some(&first), Some(&last)) = (blocks.first(), blocks.last()) else { continue };
        let stem = children_kind.stem();
        // The stem's children: the first part of its modules' names, `0` to `2` in `2.1`.
        let stem_children = stem
            .iter()
            .filter_map(|(from, _)| from.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |last| last + 1);
        let in_a_row = last - first == blocks.len() - 1 && (3..=4).contains(&blocks.len());
        if first < stem_children || !in_a_row || children.range(stem_children..first).next().is_some() {
            continue;
        }
        renames.extend(stem.iter().map(|(from, to)| (format!("{sequential}{from}."), format!("{sequential}{to}."))));
        for (stage, block) in blocks.iter().enumerate() {
            renames.push((format!("{sequential}{block}."), format!("{sequential}layer{}.", stage + 1)));
        }
        if children_kind == Children::XResNet {
            xresnets.push(sequential.to_string());
        }
        match children.iter().filter(|&&i| i > last).collect::<Vec<_>>()[..] {
            [] => {} // a head beside the Sequential, read or refused as one
            [head] if state.get(&format!("{sequential}{head}.weight")).is_some_and(|w| w.shape.len() == 2) => {
                renames.push((format!("{sequential}{head}."), format!("{sequential}fc.")));
            }
            ref after => {
                let named: Vec<String> = after.iter().map(|i| format!("'{sequential}{i}'")).collect();
                return Err(ImportError::NotPlain(format!(
                    "layers with weights after the ResNet's blocks in its Sequential ({}): only one Linear after them is read",
                    named.join(", ")
                )));
            }
        }
    }
    let renamed = |k: String| {
        let k = match renames.iter().find(|(from, _)| k.starts_with(from.as_str())) {
            Some((from, to)) => format!("{to}{}", &k[from.len()..]),
            None => k,
        };
        let xresnet = xresnets.iter().find_map(|sequential| {
            let (block, part) = xresnet_block_part(k.strip_prefix(sequential.as_str())?)?;
            Some(format!("{sequential}{block}.{part}"))
        });
        xresnet.unwrap_or(k)
    };
    Ok(state.into_iter().map(|(k, v)| (renamed(k), v)).collect())
}

/// How a Sequential of a ResNet's children names its stem and blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Children {
    /// torchvision's ResNet's children: `0` conv1, `1` bn1, blocks of `conv1`, `bn1`...
    Torchvision,
    /// fastai's xresnet (ResNet-D, "Bag of Tricks"): a deep stem of three `ConvLayer`s (`0` to
    /// `2`, each a conv `.0` and its BatchNorm `.1`), blocks of a `convpath` of ConvLayers and an
    /// `idpath` (an average pooling where the stride is 2, then a ConvLayer where the channels
    /// change).
    XResNet,
}

impl Children {
    /// Whether `sequential` begins with such a stem.
    fn is_stem(self, state: &StateDict, sequential: &str) -> bool {
        let is_conv = |name: &str| state.get(&format!("{sequential}{name}.weight")).is_some_and(|w| w.shape.len() == 4);
        let is_norm = |name: &str| state.contains_key(&format!("{sequential}{name}.running_mean"));
        match self {
            Children::Torchvision => is_conv("0") && is_norm("1"),
            Children::XResNet => {
                ["0", "1", "2"].iter().all(|c| is_conv(&format!("{c}.0")) && is_norm(&format!("{c}.1")))
            }
        }
    }

    /// A tensor every block's first has, under the block's name.
    fn block_tensor(self) -> &'static str {
        match self {
            Children::Torchvision => "0.conv1.weight",
            Children::XResNet => "0.convpath.0.0.weight",
        }
    }

    /// The stem's modules and their names as torchvision's (a deep stem's, as timm's).
    fn stem(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Children::Torchvision => &[("0", "conv1"), ("1", "bn1")],
            Children::XResNet => &[
                ("0.0", "conv1.0"),
                ("0.1", "conv1.1"),
                ("1.0", "conv1.3"),
                ("1.1", "conv1.4"),
                ("2.0", "conv1.6"),
                ("2.1", "bn1"),
            ],
        }
    }
}

/// A tensor of an xresnet's block (`layer2.0.convpath.1.0.weight`, under its Sequential) as its
/// block and the part of it timm's ResNet-D names so: a `convpath` ConvLayer's conv `.0` is
/// `conv2.weight`, its BatchNorm `.1` `bn2`; the `idpath` ConvLayer's (after the pooling, where
/// there is one) `downsample.1`, its BatchNorm `downsample.2`.
fn xresnet_block_part(name: &str) -> Option<(&str, String)> {
    let (block, path, rest) = match (name.split_once(".convpath."), name.split_once(".idpath.")) {
        (Some((block, rest)), _) => (block, "convpath", rest),
        (_, Some((block, rest))) => (block, "idpath", rest),
        _ => return None,
    };
    let (layer, rest) = rest.split_once('.')?;
    let (module, param) = rest.split_once('.')?;
    let number = || Some(layer.parse::<usize>().ok()? + 1);
    let part = match (path, module) {
        ("convpath", "0") => format!("conv{}.{param}", number()?),
        ("convpath", "1") => format!("bn{}.{param}", number()?),
        ("idpath", "0") => format!("downsample.1.{param}"),
        ("idpath", "1") => format!("downsample.2.{param}"),
        _ => return None,
    };
    Some((block, part))
}

/// torchvision's name for a tensor of the Hugging Face ResNet at `network`, or of the classifier
/// beside it, if it is one of theirs.
fn hugging_face_name(key: &str, network: &str) -> Option<String> {
    let parent = network.strip_suffix("resnet.").unwrap_or(network);
    if let Some(rest) = key.strip_prefix(parent).and_then(|k| k.strip_prefix("classifier.")) {
        return Some(format!("{parent}fc.{rest}"));
    }
    let parts: Vec<&str> = key.strip_prefix(network)?.split('.').collect();
    let next = |index: &str| index.parse::<usize>().ok()?.checked_add(1);
    let name = match parts[..] {
        ["embedder", "embedder", "convolution", param] => format!("conv1.{param}"),
        ["embedder", "embedder", "normalization", param] => format!("bn1.{param}"),
        ["encoder", "stages", stage, "layers", block, "shortcut", module, param] => {
            let part = match module {
                "convolution" => 0,
                "normalization" => 1,
                _ => return None,
            };
            format!("layer{}.{block}.downsample.{part}.{param}", next(stage)?)
        }
        ["encoder", "stages", stage, "layers", block, "layer", conv, module, param] => {
            let kind = match module {
                "convolution" => "conv",
                "normalization" => "bn",
                _ => return None,
            };
            format!("layer{}.{block}.{kind}{}.{param}", next(stage)?, next(conv)?)
        }
        _ => return None,
    };
    Some(format!("{parent}{name}"))
}

/// How the network names its own tensors (under `prefix`) against torchvision's names, where it
/// names them as kuangliu's pytorch-cifar does, the most copied CIFAR ResNets: torchvision's
/// layers, the projection shortcuts named `shortcut` (`layer2.0.shortcut.1.bias` is
/// `layer2.0.downsample.1.bias`) and the head `linear` (`linear.weight` is `fc.weight`), each
/// where torchvision's name is not used; a BatchNorm before the head named `bn` (Wong et al.'s
/// PreActResNet18, for fast adversarial training) is `norm`; or as RobustBench's Wide ResNets
/// do: `block2.layer.0.conv1` is `layer2.0.conv1`, its `convShortcut` is `downsample.0`, and the
/// BatchNorm before the head, `bn1`, is `norm`.
struct Naming {
    /// The network's prefix in the file (`module.`).
    prefix: String,
    shortcut: bool,
    linear: bool,
    wide: bool,
}

impl Naming {
    fn of(state: &StateDict, prefix: &str) -> Naming {
        let own = || state.keys().filter_map(|k| k.strip_prefix(prefix));
        Naming {
            prefix: prefix.to_string(),
            shortcut: !own().any(|k| k.contains(".downsample.")) && own().any(|k| k.contains(".shortcut.")),
            linear: !own().any(|k| k.starts_with("fc.")) && own().any(|k| k.starts_with("linear.")),
            wide: !own().any(|k| k.starts_with("layer1.")) && own().any(|k| k.starts_with("block1.layer.")),
        }
    }

    /// Whether the file names its projections as the codes whose pre-activation blocks project
    /// their input pre-activated do (kuangliu's `shortcut`, RobustBench's `convShortcut`), not
    /// torchvision's `downsample`, as bearpaw's pytorch-classification does, whose blocks
    /// project it as it came.
    fn pre_activated_projections(&self) -> bool {
        self.shortcut || self.wide
    }

    /// A name of the file's, its prefix off, as torchvision's.
    fn torchvision(&self, name: &str) -> String {
        match (name.strip_prefix("linear."), name.strip_prefix("bn.")) {
            (Some(param), _) if self.linear => format!("fc.{param}"),
            (_, Some(param)) => format!("norm.{param}"),
            _ if self.shortcut => name.replacen(".shortcut.", ".downsample.", 1),
            _ if self.wide => wide_resnet_name(name),
            _ => name.to_string(),
        }
    }

    /// A torchvision name (of a tensor or a module) as the file has it, or would have it where
    /// it is missing, prefix on: what an error names.
    fn file(&self, name: &str) -> String {
        // `fc` and `fc.weight`, not `fcn.weight`.
        let module = |module: &str| name.strip_prefix(module).filter(|rest| rest.is_empty() || rest.starts_with('.'));
        let own = match (module("fc"), module("norm")) {
            (Some(rest), _) if self.linear => format!("linear{rest}"),
            (_, Some(rest)) if self.wide => format!("bn1{rest}"),
            (_, Some(rest)) => format!("bn{rest}"),
            _ if self.shortcut => name.replacen(".downsample.", ".shortcut.", 1),
            _ if self.wide => wide_resnet_file_name(name),
            _ => name.to_string(),
        };
        format!("{}{own}", self.prefix)
    }
}

/// A RobustBench Wide ResNet's name as torchvision's ([`Naming`]).
fn wide_resnet_name(name: &str) -> String {
    if let Some(param) = name.strip_prefix("bn1.") {
        return format!("norm.{param}");
    }
    let Some((stage, rest)) = name.strip_prefix("block").and_then(|n| n.split_once(".layer.")) else {
        return name.to_string();
    };
    format!("layer{stage}.{}", rest.replacen(".convShortcut.", ".downsample.0.", 1))
}

/// And back (the BatchNorm before the head is [`Naming::file`]'s).
fn wide_resnet_file_name(name: &str) -> String {
    let Some((stage, rest)) = name.strip_prefix("layer").and_then(|n| n.split_once('.')) else {
        return name.to_string();
    };
    format!("block{stage}.layer.{}", rest.replacen(".downsample.0.", ".convShortcut.", 1))
}

impl ImportError {
    /// The error with the tensor or module it names as the file names it.
    fn in_file_names(self, naming: &Naming) -> ImportError {
        match self {
            ImportError::Missing(name) => ImportError::Missing(naming.file(&name)),
            ImportError::WrongShape { name, found, expected, architecture } => {
                ImportError::WrongShape { name: naming.file(&name), found, expected, architecture }
            }
            ImportError::NotFinite(name) => ImportError::NotFinite(naming.file(&name)),
            ImportError::BadBatchNorm(name) => ImportError::BadBatchNorm(naming.file(&name)),
            other => other,
        }
    }
}

/// Weights saved as the parts they are computed from, which a ResNet's layers do not read.
fn saved_in_parts(state: &StateDict) -> Option<String> {
    let has = |part: &str| state.keys().any(|k| k.contains(part));
    if has(".weight_orig") {
        Some("a pruned network, its weights saved as weight_orig and weight_mask: make the pruning permanent (torch.nn.utils.prune.remove on each pruned layer) and save the state_dict again".into())
    } else if has(".parametrizations.") {
        Some("weights under parametrizations (weight norm?): remove them (torch.nn.utils.parametrize.remove_parametrizations) and save the state_dict again".into())
    } else {
        None
    }
}

/// What makes an unprefixed state dict another network than a plain ResNet, though named as one:
/// a pre-activation one with a BatchNorm after its stem, a stem of another kernel than 7x7 or
/// 3x3 (a deep one of other than three 3x3s), tensors inside the blocks that a ResNet's do not
/// have (squeeze-excitation, attention), which a ResNet's layers would answer without.
fn not_plain(state: &StateDict) -> Option<String> {
    let kernel = |name: &str| match state.get(name).map(|w| w.shape.as_slice()) {
        Some(&[_, _, kernel, _]) => Some(kernel),
        _ => None,
    };
    if state.contains_key("conv1.0.weight") {
        let kernels = DEEP_STEM.map(|conv| kernel(&format!("{conv}.weight")));
        if kernels != [Some(3); 3] {
            return Some(format!(
                "a deep stem whose convolutions {} have kernels {kernels:?}, where ResNet-C and -D's (timm's resnet50d) are three 3x3s",
                DEEP_STEM.join(", ")
            ));
        }
    }
    // A pre-activation block's first BatchNorm has its input's channels, a plain one's its first
    // conv's output's: they differ where a block changes the channels.
    let preactivated = |block: &str| {
        let channels = |name: &str| state.get(&format!("{block}.{name}.weight")).map(|t| t.shape.as_slice());
        matches!((channels("bn1"), channels("conv1")), (Some(&[bn]), Some(&[out, cin, ..])) if bn == cin && bn != out)
    };
    if state.contains_key("bn1.weight")
        && state.keys().filter_map(|k| k.strip_suffix(".conv1.weight")).any(preactivated)
    {
        return Some("a pre-activation ResNet with a BatchNorm after its stem (as fb.resnet.torch's preresnet), where kuangliu's PreActResNets and the Wide ResNets have none".into());
    }
    if let Some(kernel) = kernel("conv1.weight")
        && Stem::of_kernel(kernel).is_none()
    {
        return Some(format!(
            "a stem of a {kernel}x{kernel} convolution, where torchvision's is 7x7 and the CIFAR recipe's 3x3"
        ));
    }
    let plain = |part: &str| matches!(part, "conv1" | "conv2" | "conv3" | "bn1" | "bn2" | "bn3" | "downsample");
    let foreign: Vec<&String> =
        state.keys().filter(|k| k.starts_with("layer") && !k.split('.').nth(2).is_some_and(plain)).collect();
    let first = foreign.first()?;
    Some(format!(
        "{} inside the blocks that a ResNet's do not have, such as '{first}' (squeeze-excitation or attention, as in SE-ResNets)",
        crate::counted(foreign.len(), "tensor", "tensors")
    ))
}

/// `nn.Sequential(resnet, nn.Linear(classes, k))`, a head put after the ResNet's own, saved as
/// `0.fc.weight` and `1.weight`: with nothing between them the two Linears are one, folded into
/// `fc` (W = W1 W0, b = W1 b0 + b1); after a ResNet whose fc is an Identity, the Linear is its
/// fc. A normalisation before it is read as the model's preprocessing ([`normalization`]); other
/// layers with weights before it, between, or more after are refused; other copies of the network
/// beside it (an ensemble's) are not its layers.
fn head_after(state: &StateDict, prefix: &str, own: &mut StateDict) -> Result<(), ImportError> {
    // The ResNet's place in its Sequential: `0.` or `model.0.`.
    let Some((parent, index)) = place(prefix) else { return Ok(()) };
    let Ok(index) = index.parse::<usize>() else { return Ok(()) };
    let networks = roots(state);
    let layers: BTreeSet<usize> = state
        .keys()
        .filter_map(|k| k.strip_prefix(&parent)?.split_once('.')?.0.parse::<usize>().ok())
        .filter(|&i| i != index && !networks.contains(&format!("{parent}{i}.").as_str()))
        .collect();
    let named = |layers: Vec<&usize>| layers.iter().map(|i| format!("'{parent}{i}'")).collect::<Vec<_>>().join(", ");
    let normalising: Vec<String> = normalizers(state, prefix).into_iter().map(|saved| saved.place).collect();
    let before: Vec<&usize> =
        layers.range(..index).filter(|i| !normalising.contains(&format!("{parent}{i}"))).collect();
    if !before.is_empty() {
        return Err(ImportError::NotPlain(format!(
            "layers with weights before the ResNet ({}): save the ResNet's state_dict alone (and give its mean and std if one normalises)",
            named(before)
        )));
    }
    let next = index + 1;
    let after: Vec<&usize> = layers.range(next..).collect();
    let linear = match after[..] {
        [] => return Ok(()),
        [&only] if only == next => state.get(&format!("{parent}{next}.weight")),
        _ => None,
    };
    if linear.is_none() && after[..] == [&next] {
        if own.contains_key("fc.weight") {
            return Err(ImportError::NotPlain(format!(
                "a head of several layers ('{parent}{next}') after the ResNet's own fc: only one Linear after it is read"
            )));
        }
        // Read as torchvision's names would have it, were there such: its last Linear `fc`, the
        // others `hidden.0` on.
        let mut linears = linears_after(state, &format!("{parent}{next}"))?;
        let (weight, bias) = linears.pop().expect("a head has one Linear at least");
        for (i, (weight, bias)) in linears.into_iter().enumerate() {
            own.insert(format!("hidden.{i}.weight"), weight);
            own.insert(format!("hidden.{i}.bias"), bias);
        }
        own.insert("fc.weight".into(), weight);
        own.insert("fc.bias".into(), bias);
        return Ok(());
    }
    let Some(linear) = linear else {
        return Err(ImportError::NotPlain(format!(
            "layers after the ResNet ({}): only one Linear right after it is read",
            named(after)
        )));
    };
    let linear_bias = state.get(&format!("{parent}{next}.bias"));
    let wrong = |name: String, found: &[usize], expected: Vec<usize>| {
        Err(ImportError::WrongShape { name, found: found.to_vec(), expected, architecture: "head after the ResNet" })
    };
    let &[outputs, inner] = linear.shape.as_slice() else {
        return Err(ImportError::NotPlain(format!("a layer after the ResNet ('{parent}{next}') that is not a Linear")));
    };
    if let Some(bias) = linear_bias.filter(|b| b.shape != [outputs]) {
        return wrong(format!("{parent}{next}.bias"), &bias.shape, vec![outputs]);
    }
    let Some(fc) = own.get("fc.weight") else {
        // fc = nn.Identity: the Linear is the head.
        own.insert("fc.weight".into(), linear.clone());
        own.extend(linear_bias.map(|bias| ("fc.bias".to_string(), bias.clone())));
        return Ok(());
    };
    let &[classes, features] = fc.shape.as_slice() else {
        return wrong("fc.weight".into(), &fc.shape, vec![inner, 0]);
    };
    if inner != classes {
        return wrong(format!("{parent}{next}.weight"), &linear.shape, vec![outputs, classes]);
    }
    let fc_bias = own.get("fc.bias").map_or(vec![0.0; classes], |b| b.values.clone());
    if fc_bias.len() != classes {
        return wrong("fc.bias".into(), &[fc_bias.len()], vec![classes]);
    }
    // Memory the file justifies: a Linear(1, 10^6) after a head of one class would fold into
    // 8 GB.
    if (outputs as u64) * (features as u64) > 32 * (linear.values.len() + fc.values.len()) as u64 {
        return Err(ImportError::NotPlain(format!(
            "a Linear after the ResNet ('{parent}{next}') of {outputs} outputs from {classes}: far larger folded than saved"
        )));
    }
    let linear_bias = linear_bias.map_or(vec![0.0; outputs], |b| b.values.clone());
    // In f64: a thousand products a weight.
    let row = |o: usize| &linear.values[o * classes..(o + 1) * classes];
    let mut weight = vec![0.0; outputs * features];
    for (o, folded) in weight.chunks_exact_mut(features).enumerate() {
        for (f, folded) in folded.iter_mut().enumerate() {
            let sum: f64 =
                row(o).iter().enumerate().map(|(c, w)| f64::from(*w) * f64::from(fc.values[c * features + f])).sum();
            *folded = sum as f32;
        }
    }
    let bias = (0..outputs)
        .map(|o| {
            let sum: f64 = row(o).iter().zip(&fc_bias).map(|(w, b)| f64::from(*w) * f64::from(*b)).sum();
            (sum + f64::from(linear_bias[o])) as f32
        })
        .collect();
    own.insert("fc.weight".into(), FloatTensor { shape: vec![outputs, features], values: weight });
    own.insert("fc.bias".into(), FloatTensor { shape: vec![outputs], values: bias });
    Ok(())
}

/// The Linears of a Sequential head after the ResNet (`module`), as fastai's `vision_learner`
/// makes one: BatchNorm1d, Dropout, Linear, ReLU, BatchNorm1d, Dropout, Linear (its
/// `create_head`; `lin_first` puts each BatchNorm after the ReLU), a ReLU after each Linear but
/// the last. Each BatchNorm folds into the Linear after it (w' = w s, b' = b + w t, s = gamma /
/// sqrt(var + eps), t = beta - mean s), or, last (`bn_final`), into the one before it. As
/// (weight, bias) of each Linear, in order.
fn linears_after(state: &StateDict, module: &str) -> Result<Vec<(FloatTensor, FloatTensor)>, ImportError> {
    let children: BTreeSet<usize> = state
        .keys()
        .filter_map(|k| k.strip_prefix(module)?.strip_prefix('.')?.split_once('.')?.0.parse().ok())
        .collect();
    let get = |i: usize, param: &str| state.get(&format!("{module}.{i}.{param}"));
    let wrong = |name: String, found: &[usize], expected: Vec<usize>| ImportError::WrongShape {
        name,
        found: found.to_vec(),
        expected,
        architecture: "head after the ResNet",
    };
    let mut linears: Vec<(FloatTensor, FloatTensor)> = Vec::new();
    // A BatchNorm's scale and shift, waiting for the Linear after it.
    let mut pending: Option<(usize, Vec<f64>, Vec<f64>)> = None;
    for &i in &children {
        if let Some(mean) = get(i, "running_mean") {
            let n = mean.values.len();
            let variance =
                get(i, "running_var").ok_or_else(|| ImportError::Missing(format!("{module}.{i}.running_var")))?;
            let param = |name: &str, default: f32| match get(i, name) {
                Some(t) if t.values.len() == n => Ok(t.values.clone()),
                Some(t) => Err(wrong(format!("{module}.{i}.{name}"), &t.shape, vec![n])),
                None => Ok(vec![default; n]),
            };
            let (gamma, beta) = (param("weight", 1.0)?, param("bias", 0.0)?);
            if variance.values.len() != n {
                return Err(wrong(format!("{module}.{i}.running_var"), &variance.shape, vec![n]));
            }
            let scale: Vec<f64> = (0..n)
                .map(|c| f64::from(gamma[c]) / (f64::from(variance.values[c]) + f64::from(BATCH_NORM_EPSILON)).sqrt())
                .collect();
            let shift = (0..n).map(|c| f64::from(beta[c]) - f64::from(mean.values[c]) * scale[c]).collect();
            if pending.replace((i, scale, shift)).is_some() {
                return Err(ImportError::NotPlain(format!(
                    "two BatchNorms in a row in the head after the ResNet ('{module}')"
                )));
            }
            continue;
        }
        let Some(weight) = get(i, "weight").filter(|w| w.shape.len() == 2) else {
            return Err(ImportError::NotPlain(format!(
                "a layer in the head after the ResNet ('{module}.{i}') that is neither a Linear nor a BatchNorm1d"
            )));
        };
        let (outputs, inputs) = (weight.shape[0], weight.shape[1]);
        if let Some((previous, _)) = linears.last().filter(|(w, _)| w.shape[0] != inputs) {
            return Err(wrong(format!("{module}.{i}.weight"), &weight.shape, vec![outputs, previous.shape[0]]));
        }
        let mut bias: Vec<f64> = match get(i, "bias") {
            Some(b) if b.values.len() == outputs => b.values.iter().map(|v| f64::from(*v)).collect(),
            Some(b) => return Err(wrong(format!("{module}.{i}.bias"), &b.shape, vec![outputs])),
            None => vec![0.0; outputs],
        };
        let mut folded = weight.values.clone();
        if let Some((norm, scale, shift)) = pending.take() {
            if scale.len() != inputs {
                return Err(wrong(format!("{module}.{norm}.running_mean"), &[scale.len()], vec![inputs]));
            }
            for (row, b) in folded.chunks_exact_mut(inputs).zip(&mut bias) {
                *b += row.iter().zip(&shift).map(|(w, t)| f64::from(*w) * t).sum::<f64>();
                row.iter_mut().zip(&scale).for_each(|(w, s)| *w = (f64::from(*w) * s) as f32);
            }
        }
        let bias = FloatTensor { shape: vec![outputs], values: bias.into_iter().map(|b| b as f32).collect() };
        linears.push((FloatTensor { shape: weight.shape.clone(), values: folded }, bias));
    }
    let Some((weight, bias)) = linears.last_mut() else {
        return Err(ImportError::NotPlain(format!("a layer after the ResNet ('{module}') with no Linear in it")));
    };
    if let Some((norm, scale, shift)) = pending {
        // After the last Linear (fastai's `bn_final`), with no ReLU between.
        let outputs = weight.shape[0];
        if scale.len() != outputs {
            return Err(wrong(format!("{module}.{norm}.running_mean"), &[scale.len()], vec![outputs]));
        }
        for (o, row) in weight.values.chunks_exact_mut(weight.shape[1]).enumerate() {
            row.iter_mut().for_each(|w| *w = (f64::from(*w) * scale[o]) as f32);
            bias.values[o] = (f64::from(bias.values[o]) * scale[o] + shift[o]) as f32;
        }
    }
    Ok(linears)
}

/// The tensors of the model's own (under its prefix: not a checkpoint's optimizer state) that no
/// layer of `architecture` reads: a second head or a branch of another network, which the
/// converted model leaves out, and whose answers it will not give.
pub fn left_out(state: &StateDict, architecture: &Architecture) -> Vec<String> {
    // By name only: the tensors are not copied (the page converts models of 500 MB).
    let Some(kept) = root(state) else { return Vec::new() };
    let networks = roots(state);
    // Another copy of the network under the one read (`ema.` beside a state dict's own names) is
    // said as such, not tensor by tensor.
    let copies: Vec<&str> = networks.iter().filter(|r| **r != kept).filter_map(|r| r.strip_prefix(kept)).collect();
    let mut read: HashSet<String> = ["fc.weight", "fc.bias"].map(String::from).into();
    let batch_norm = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"];
    for spec in architecture.conv_specs() {
        read.extend(["weight", "bias"].map(|p| format!("{}.{p}", spec.name)));
        read.extend(
            batch_norm_name(&spec, architecture).into_iter().flat_map(|bn| batch_norm.map(|p| format!("{bn}.{p}"))),
        );
    }
    // A Sequential head (`fc.1.weight`) was read as fc ([`sequential_head`]).
    let sequential_head = !state.contains_key(&format!("{kept}fc.weight"));
    let naming = Naming::of(state, kept);
    // A normalisation read, inside the network or beside it, the network's or a copy's.
    let normalising: HashSet<&str> =
        networks.iter().flat_map(|network| normalizers(state, network)).flat_map(|saved| saved.keys).collect();
    let normalises = |k: &str| normalising.contains(k);
    let mut left: Vec<String> = state
        .keys()
        .filter(|k| !normalises(k))
        .filter_map(|k| k.strip_prefix(kept))
        .filter(|name| !read.contains(&naming.torchvision(name)) && !copies.iter().any(|copy| name.starts_with(copy)))
        .filter(|name| !(sequential_head && name.starts_with("fc.")))
        .map(String::from)
        .collect();
    // And the layers beside it (`classifier.weight` beside `backbone.`: a head of the model's
    // own, which it may pass the ResNet's answers through), by their full names. Numbered ones
    // are a Sequential's around it, which the import read or refused ([`head_after`]).
    // So are statistics beside it that are not a normalisation read: ones named otherwise
    // (`inv_std`) or holding more, which ImageNet's stand in for.
    if let Some((parent, _)) = place(kept) {
        let head = head_beside(state).ok().flatten().map(|module| format!("{module}."));
        let statistic = |k: &str| {
            let last = k.rsplit('.').next().unwrap_or(k).to_ascii_lowercase();
            matches!(last.as_str(), "mean" | "std" | "mu" | "sigma")
                || last.ends_with("_mean")
                || last.ends_with("_var")
                || last.ends_with("_std")
        };
        let beside = state.keys().filter(|k| {
            k.strip_prefix(&parent)
                .and_then(|rest| rest.split('.').next())
                .is_some_and(|first| first.parse::<usize>().is_err())
                && (k.ends_with(".weight") || k.ends_with(".bias") || statistic(k))
                && !networks.iter().any(|network| k.starts_with(network))
                && !normalises(k)
                && !head.as_ref().is_some_and(|module| k.starts_with(module))
        });
        left.extend(beside.cloned());
    }
    left.sort();
    left
}

/// Where a network's prefix sits: `model.0.` is `0` of `model.`, `backbone.` is `backbone` of
/// the top level; the top level itself is nowhere. DataParallel inside a Sequential (`1.module.`)
/// is the layer it wraps (`1`), and so is fastai's `TimmBody` (`0.model.`: a timm ResNet, named
/// as torchvision's, as the body of a `vision_learner` given a timm architecture's name).
fn place(prefix: &str) -> Option<(String, &str)> {
    let layer =
        |p: &str| p.strip_suffix('.').is_some_and(|p| p.rsplit('.').next().is_some_and(|l| l.parse::<usize>().is_ok()));
    let wrapped = ["module.", "model."].iter().find_map(|wrapper| prefix.strip_suffix(wrapper).filter(|p| layer(p)));
    let prefix = wrapped.unwrap_or(prefix);
    let place = prefix.strip_suffix('.')?;
    let (parent, name) = place.rsplit_once('.').map_or(("", place), |(parent, name)| (parent, name));
    Some((if parent.is_empty() { String::new() } else { format!("{parent}.") }, name))
}

/// A normalisation saved with the network, read as the model's preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Its module, as the file names it (`0`, `module.normalizer`), or its tensors where they
    /// are bare (`mu and sigma`).
    pub module: String,
    /// For pixels in [0, 1], as torchvision's `Normalize` takes them.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Saved for pixels in [0, 255] (a value above 1), and divided by 255.
    pub scaled: bool,
}

/// A normalisation the file saves: its module (`0`, `module.normalizer`), or its two tensors
/// where they are bare (`mu and sigma`), and the keys and tensors of its mean and std.
struct Saved<'a> {
    place: String,
    keys: [&'a str; 2],
    mean: &'a FloatTensor,
    std: &'a FloatTensor,
}

/// The normalisations of the input of the network at `prefix`: a mean and a std of three values
/// each (`mean` and `std`, the robustness library's `new_mean` and `new_std`, or `mu` and `sigma`)
/// and nothing else, in a module before the network in a Sequential (`0.mean`), or named as a
/// normalisation beside it (`normalize.mean`, the robustness library's `normalizer.new_mean`) or
/// inside it (a ResNet subclass's `self.normalize`); or bare, as a ResNet subclass's own buffers
/// (`self.mu`, as RobustBench's Hendrycks2020AugMix WRN saves them) or a wrapper's beside it. A
/// module that is neither may be applied after the network (a calibration).
fn normalizers<'a>(state: &'a StateDict, prefix: &str) -> Vec<Saved<'a>> {
    // Each module's tensors by its full name; the bare tensors of a level by the level's prefix
    // (`` or `module.`), which no module's name is.
    let mut groups: BTreeMap<String, Vec<(&'a str, &'a str, &'a FloatTensor)>> = BTreeMap::new();
    let mut group = |parent: &str, takes: &dyn Fn(&str) -> bool| {
        for (key, tensor) in state {
            let Some(name) = key.strip_prefix(parent) else { continue };
            match name.split_once('.') {
                Some((module, inner)) if takes(module) => {
                    groups.entry(format!("{parent}{module}")).or_default().push((key, inner, tensor));
                }
                Some(_) => {}
                None => groups.entry(parent.to_string()).or_default().push((key, name, tensor)),
            }
        }
    };
    let named_norm = |module: &str| module.to_ascii_lowercase().contains("norm");
    group(prefix, &named_norm);
    if let Some((parent, index)) = place(prefix) {
        let before = |module: &str| match (module.parse::<usize>(), index.parse::<usize>()) {
            (Ok(module), Ok(network)) => module < network,
            (Ok(_), Err(_)) => false,
            (Err(_), _) => named_norm(module),
        };
        group(&parent, &before);
    }
    let named = |tensors: &[(&'a str, &'a str, &'a FloatTensor)], names: [&str; 3]| {
        let found = tensors
            .iter()
            .find(|(_, name, tensor)| names.contains(&name.to_ascii_lowercase().as_str()) && tensor.values.len() == 3);
        found.map(|&(key, _, tensor)| (key, tensor))
    };
    groups
        .into_iter()
        .filter(|(_, tensors)| tensors.len() == 2)
        .filter_map(|(group, tensors)| {
            let (mean_key, mean) = named(&tensors, ["mean", "new_mean", "mu"])?;
            let (std_key, std) = named(&tensors, ["std", "new_std", "sigma"])?;
            let bare = group.is_empty() || group.ends_with('.');
            let place = if bare { format!("{mean_key} and {std_key}") } else { group };
            Some(Saved { place, keys: [mean_key, std_key], mean, std })
        })
        .collect()
}

/// The normalisation saved with the network converted ([`Normalization`]), if any. Another
/// copy of the network (the robustness library's attacker's) must bring the same.
pub fn normalization(state: &StateDict) -> Result<Option<Normalization>, ImportError> {
    let Some(kept) = root(state) else { return Ok(None) };
    let found = normalizers(state, kept);
    let named = |found: &[Saved]| found.iter().map(|saved| format!("'{}'", saved.place)).collect::<Vec<_>>().join(", ");
    let (module, mean, std) = match &found[..] {
        [] => return Ok(None),
        [saved] => (saved.place.clone(), saved.mean, saved.std),
        _ => return Err(ImportError::Normalization(format!("normalisations one after another ({})", named(&found)))),
    };
    let copies = roots(state).into_iter().filter(|r| *r != kept).flat_map(|r| normalizers(state, r));
    if copies.into_iter().any(|copy| copy.mean.values != mean.values || copy.std.values != std.values) {
        return Err(ImportError::Normalization(format!(
            "the copies of the network normalise differently ('{module}' and another)"
        )));
    }
    let three = |t: &FloatTensor| [t.values[0], t.values[1], t.values[2]];
    let (saved_mean, saved_std) = (three(mean), three(std));
    // Values above 1 are of pixels in [0, 255]: `Normalize(0, 255)` scales them to [0, 1].
    let scaled = saved_mean.iter().chain(&saved_std).any(|v| *v > 1.0);
    let scale = if scaled { 255.0 } else { 1.0 };
    let (mean, std) = (saved_mean.map(|m| m / scale), saved_std.map(|s| s / scale));
    if !mean.iter().all(|m| MEANS.contains(m)) || !std.iter().all(|s| STDS.contains(s)) {
        return Err(ImportError::Normalization(format!(
            "a normalisation ('{module}') of mean {} and std {}, which photos' pixels do not take",
            rounded(saved_mean),
            rounded(saved_std)
        )));
    }
    Ok(Some(Normalization { module, mean, std, scaled }))
}

/// `fc = nn.Sequential(nn.Dropout(p), nn.Linear(...))`, a common fine-tuning head, saved as
/// `fc.1.weight`: the same network at inference as its Linear alone, which is renamed `fc`. A
/// Sequential with weights in more than one layer (a BatchNorm, a second Linear) is another
/// network, refused by name.
fn sequential_head(state: &mut StateDict) -> Result<(), ImportError> {
    if state.contains_key("fc.weight") {
        return Ok(());
    }
    let layers: BTreeSet<&str> =
        state.keys().filter_map(|k| k.strip_prefix("fc.")?.split_once('.').map(|(layer, _)| layer)).collect();
    let layer = match layers.into_iter().collect::<Vec<_>>()[..] {
        [] => return Ok(()), // said missing where the head is read
        [layer] if state.get(&format!("fc.{layer}.weight")).is_some_and(|w| w.shape.len() == 2) => layer.to_string(),
        ref layers => {
            return Err(ImportError::Head(layers.iter().map(|l| format!("fc.{l}")).collect::<Vec<_>>().join(", ")))
        }
    };
    for param in ["weight", "bias"] {
        if let Some(tensor) = state.remove(&format!("fc.{layer}.{param}")) {
            state.insert(format!("fc.{param}"), tensor);
        }
    }
    Ok(())
}

fn shape<'a>(state: &'a StateDict, name: &str) -> Result<&'a [usize], ImportError> {
    state.get(name).map(|t| t.shape.as_slice()).ok_or_else(|| ImportError::Missing(name.into()))
}

/// The classes the head scores: the rows of `fc.weight`, a matrix.
fn head_classes(state: &StateDict) -> Result<usize, ImportError> {
    match state.get("fc.weight").map(|w| w.shape.as_slice()) {
        None => Err(ImportError::NoHead),
        Some(&[classes, _]) => Ok(classes),
        Some(shape) => Err(ImportError::NotPlain(format!("a head ('fc.weight') of shape {shape:?}, not a matrix"))),
    }
}

/// A deep stem's convolutions, as timm names them (`conv1.1` and `conv1.4` are their BatchNorms).
const DEEP_STEM: [&str; 3] = ["conv1.0", "conv1.3", "conv1.6"];

/// The stem as its recipe has it for the kernel of `conv1` (7x7 or 3x3, [`not_plain`] refuses
/// others), or a deep one of the widths of its first two convolutions, with ImageNet's stride and
/// pooling; ImageNet's where `conv1` is missing or no 4-D kernel, which reading it then says.
fn stem(state: &StateDict) -> Stem {
    let width = |conv: &str| state.get(&format!("{conv}.weight")).and_then(|w| w.shape.first().copied());
    if let (Some(first), Some(second)) = (width(DEEP_STEM[0]), width(DEEP_STEM[1])) {
        return Stem::deep([first, second]);
    }
    match state.get("conv1.weight").map(|w| w.shape.as_slice()) {
        Some(&[_, _, kernel, _]) => Stem::of_kernel(kernel).unwrap_or(Stem::IMAGENET),
        _ => Stem::IMAGENET,
    }
}

/// Recognises the variant from the names and shapes of an unprefixed state dict.
fn detect(state: &StateDict, naming: &Naming) -> Result<Architecture, ImportError> {
    let block = if state.contains_key("layer1.0.conv3.weight") { Block::Bottleneck } else { Block::Basic };
    let blocks =
        [1, 2, 3, 4].map(|s| (0..).take_while(|b| state.contains_key(&format!("layer{s}.{b}.conv1.weight"))).count());
    // A bottleneck's groups, and their channels in the first stage.
    let (groups, per_group) = match block {
        Block::Basic => (1, None),
        Block::Bottleneck => {
            let inner = shape(state, "layer1.0.conv1.weight")?.first().copied().unwrap_or(0);
            let per_group = shape(state, "layer1.0.conv2.weight")?.get(1).copied().unwrap_or(0).max(1);
            (inner / per_group, Some(per_group))
        }
    };
    if blocks == [0; 4] {
        return Err(ImportError::NotResNet(look_of(state)));
    }
    // A stem without a BatchNorm of its own, before blocks with them: pre-activation ones.
    let preactivation = !state.contains_key("bn1.weight") && state.contains_key("layer1.0.bn1.weight");
    let head_norm = state.contains_key("norm.weight");
    // The stem's channels tell He et al.'s CIFAR ResNets (16) from a three-stage resnet18 (64),
    // the first stage's a Wide ResNet's widening.
    let channels = |name: &str| state.get(name).and_then(|w| w.shape.first().copied());
    // A deep stem's channels are its own: timm's resnet50s doubles ResNet-D's 64.
    let deep = state.contains_key(&format!("{}.weight", DEEP_STEM[0]));
    let stem_width = channels("conv1.weight").or_else(|| channels(&format!("{}.weight", DEEP_STEM[2])));
    let base = match block {
        Block::Basic => channels("layer1.0.conv1.weight"),
        Block::Bottleneck => channels("layer1.0.conv3.weight").map(|out| out / 4),
    };
    let classes = head_classes(state)?;
    if classes == 0 {
        return Err(ImportError::NoClasses);
    }
    VARIANTS
        .iter()
        .find(|v| {
            v.layout == Layout::Torchvision
                && (v.block, v.blocks, v.groups) == (block, blocks, groups)
                && per_group.is_none_or(|width| width == v.base_width * v.width_per_group / 64)
                && v.is_preactivation() == preactivation
                && (deep || stem_width.is_none_or(|stem| stem == v.stem_width))
                && base.is_none_or(|base| base == v.base_width)
        })
        .map(|v| {
            // Its recipe's projections, but where the file names them as a code that projects
            // the pre-activated input.
            let projects_input = v.projects_input() && !naming.pre_activated_projections();
            let order = match preactivation {
                true => Order::PreActivation { head_norm, projects_input },
                false => Order::PostActivation,
            };
            let stem_width = stem_width.filter(|_| deep).unwrap_or(v.stem_width);
            Architecture { classes, order, stem_width, ..v.clone() }
        })
        .ok_or_else(|| {
            let stages: Vec<usize> = blocks.into_iter().take_while(|&b| b > 0).collect();
            let kind = match (preactivation, head_norm) {
                (false, _) => "",
                (true, false) => "pre-activation ",
                (true, true) => "pre-activation (BatchNorm before the head) ",
            };
            let mut shape = match per_group {
                None => format!("{kind}basic blocks {stages:?}"),
                Some(width) => {
                    format!("{kind}bottleneck blocks {stages:?} ({groups} groups of {width} channels at first)")
                }
            };
            shape.extend(base.map(|base| format!(" of {base} channels at first")));
            shape.extend(stem_width.map(|stem| format!(" after a stem of {stem} channels")));
            ImportError::UnknownVariant(shape)
        })
}

/// How the shortcuts of `variant` change shape: zero-padding in a CIFAR ResNet without any
/// projection weights (He et al.'s option A, for which the paper made them), average-pooled
/// where a projection's BatchNorm is `downsample.2` (timm's `avg_down`: `downsample.0` is the
/// pooling), else projections (where some are missing, they are said missing where they are
/// read).
fn shortcuts(state: &StateDict, variant: &Architecture) -> Shortcuts {
    let cifar = variant.stages() == 3;
    if state.keys().any(|k| k.contains(".downsample.2.")) {
        Shortcuts::AveragePooled
    } else if cifar && !state.keys().any(|k| k.contains(".downsample.")) {
        Shortcuts::ZeroPadding
    } else {
        Shortcuts::Projection
    }
}

/// Name of the BatchNorm folded into a conv: the one after it, `conv1` -> `bn1`,
/// `layer1.0.conv2` -> `layer1.0.bn2`, `layer2.0.downsample.0` -> `layer2.0.downsample.1`
/// (after an average pooling, `downsample.1` -> `downsample.2`), a deep stem's `conv1.0` ->
/// `conv1.1`, `conv1.3` -> `conv1.4`, `conv1.6` -> `bn1`. In a pre-activation network, the one
/// before the block's next conv (`layer1.0.conv1` -> `layer1.0.bn2`), none after its last, its
/// projection or the stem; a BatchNorm alone is itself.
fn batch_norm_name(spec: &ConvSpec, architecture: &Architecture) -> Option<String> {
    if spec.is_batch_norm() {
        return Some(spec.name.clone());
    }
    if let Some(position) = DEEP_STEM.iter().position(|conv| *conv == spec.name) {
        return Some(["conv1.1", "conv1.4", "bn1"][position].into());
    }
    for (conv, norm) in [("downsample.0", "downsample.1"), ("downsample.1", "downsample.2")] {
        if let Some(block) = spec.name.strip_suffix(conv) {
            return (!architecture.is_preactivation()).then(|| format!("{block}{norm}"));
        }
    }
    let (block, number) = spec.name.rsplit_once("conv")?;
    let number: usize = number.parse().ok()?;
    match architecture.is_preactivation() {
        false => Some(format!("{block}bn{number}")),
        true if block.is_empty() => None,
        true => {
            let last = match architecture.block {
                Block::Basic => 2,
                Block::Bottleneck => 3,
            };
            (number < last).then(|| format!("{block}bn{}", number + 1))
        }
    }
}

fn folded_conv(state: &StateDict, spec: &ConvSpec, architecture: &Architecture) -> Result<LayerParams, ImportError> {
    let get = |name: String, expected: &[usize]| -> Result<&[f32], ImportError> {
        let tensor = state.get(&name).ok_or_else(|| ImportError::Missing(name.clone()))?;
        if tensor.shape != expected {
            let (found, expected) = (tensor.shape.clone(), expected.to_vec());
            return Err(ImportError::WrongShape { name, found, expected, architecture: architecture.name });
        }
        if !tensor.values.iter().all(|v| v.is_finite()) {
            return Err(ImportError::NotFinite(name));
        }
        Ok(&tensor.values)
    };
    let out = spec.out_channels;
    // A BatchNorm alone is folded into the identity.
    let identity = vec![1.0; out];
    let kernel = match spec.is_batch_norm() {
        true => &identity,
        false => get(format!("{}.weight", spec.name), &spec.weight_shape())?,
    };
    let conv_bias = match spec.is_batch_norm() {
        true => None,
        false => state.get(&format!("{}.bias", spec.name)).map(|t| t.values.as_slice()),
    };
    let bias = |c: usize| conv_bias.map_or(0.0, |b| b[c]);
    let Some(bn) = batch_norm_name(spec, architecture) else {
        return Ok(LayerParams { weight: kernel.to_vec(), bias: (0..out).map(bias).collect() });
    };
    let [gamma, beta, mean, var] =
        ["weight", "bias", "running_mean", "running_var"].map(|p| get(format!("{bn}.{p}"), &[out]));
    let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
    let scale: Vec<f32> = (0..out).map(|c| gamma[c] / (var[c] + BATCH_NORM_EPSILON).sqrt()).collect();
    let per_channel = kernel.len() / out;
    let weight = kernel.iter().enumerate().map(|(i, w)| w * scale[i / per_channel]).collect();
    let bias = (0..out).map(|c| (bias(c) - mean[c]) * scale[c] + beta[c]).collect();
    let params = LayerParams { weight, bias };
    params.is_finite().then_some(params).ok_or(ImportError::BadBatchNorm(bn))
}

/// The network's parameters from a state dict, BatchNorm folded. `arch` names the variant;
/// `None` recognises it. What is wrong with a tensor is said by the file's name for it.
pub fn import_state_dict(state: &StateDict, arch: Option<&str>) -> Result<NetworkParams, ImportError> {
    let (state, naming) = strip(state)?;
    import_named(&state, &naming, arch).map_err(|error| error.in_file_names(&naming))
}

/// [`import_state_dict`] of a state dict in torchvision's names, prefix off, as `naming` renamed it.
fn import_named(state: &StateDict, naming: &Naming, arch: Option<&str>) -> Result<NetworkParams, ImportError> {
    let found = detect(state, naming);
    let mut architecture = match (arch, found) {
        (None, found) => found?,
        (Some(asked), found) => {
            let classes = head_classes(state)?;
            let named = Architecture::named(asked, classes)
                .filter(|a| a.layout == Layout::Torchvision)
                .ok_or_else(|| ImportError::UnknownArchitecture(asked.into()))?;
            match found {
                Ok(found) if found.name != named.name => {
                    return Err(ImportError::OtherArchitecture { found: found.name, asked: asked.into() });
                }
                Ok(found) => found,
                // What no variant is (three stages, another network) is none asked for either.
                Err(error @ (ImportError::NotPlain(_) | ImportError::NotResNet(_))) => return Err(error),
                _ => named,
            }
        }
    };
    architecture.stem = stem(state);
    // A deep stem's widths are the file's own: none, or more than any network has, is no stem.
    let widths = architecture.stem.deep.map(|[first, second]| [first, second, architecture.stem_width]);
    if let Some(widths) = widths.filter(|widths| !widths.iter().all(|w| Stem::is_valid_width(*w))) {
        return Err(ImportError::NotPlain(format!(
            "a deep stem of {widths:?} channels, where each must be from 1 to {}",
            Stem::DEEPEST_WIDTH
        )));
    }
    architecture.shortcuts = shortcuts(state, &architecture);
    let convs = architecture
        .conv_specs()
        .iter()
        .map(|spec| folded_conv(state, spec, &architecture))
        .collect::<Result<Vec<_>, _>>()?;
    let hidden: Vec<&FloatTensor> = (0..).map_while(|i| state.get(&format!("hidden.{i}.weight"))).collect();
    if let Some(first) = hidden.first() {
        // Max and average pooling side by side give twice the last stage's channels.
        let features = architecture.features();
        let max_and_average = first.shape[1] == 2 * features;
        if !max_and_average && first.shape[1] != features {
            return Err(ImportError::NotPlain(format!(
                "the first Linear of the head after the ResNet reads {} features, where a {}'s pooling gives {features} (average) or {} (max and average, fastai's)",
                first.shape[1],
                architecture.name,
                2 * features
            )));
        }
        architecture.head = Head { max_and_average, hidden: hidden.iter().map(|w| w.shape[0]).collect() };
    }
    let hidden = hidden
        .iter()
        .enumerate()
        .map(|(i, weight)| LayerParams {
            weight: weight.values.clone(),
            bias: state[&format!("hidden.{i}.bias")].values.clone(),
        })
        .collect();
    let fc_weight = state.get("fc.weight").ok_or(ImportError::NoHead)?;
    let inputs =
        architecture.head.linears(architecture.features(), architecture.classes).last().expect("a last Linear").1;
    let expected = [architecture.classes, inputs];
    if fc_weight.shape != expected {
        let (found, expected) = (fc_weight.shape.clone(), expected.to_vec());
        return Err(ImportError::WrongShape {
            name: "fc.weight".into(),
            found,
            expected,
            architecture: architecture.name,
        });
    }
    let fc_bias = match state.get("fc.bias") {
        Some(bias) if bias.shape == [architecture.classes] => bias.values.clone(),
        Some(bias) => {
            let (found, expected) = (bias.shape.clone(), vec![architecture.classes]);
            return Err(ImportError::WrongShape {
                name: "fc.bias".into(),
                found,
                expected,
                architecture: architecture.name,
            });
        }
        None => vec![0.0; architecture.classes],
    };
    let fc = LayerParams { weight: fc_weight.values.clone(), bias: fc_bias };
    if !fc.is_finite() {
        return Err(ImportError::NotFinite("fc".into()));
    }
    Ok(NetworkParams { architecture, convs, hidden, fc })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state dict of the right names and shapes, BatchNorm at identity, under `prefix`.
    pub(crate) fn state_dict(architecture: &Architecture, prefix: &str) -> StateDict {
        let tensor = |shape: Vec<usize>, value: f32| FloatTensor { values: vec![value; shape.iter().product()], shape };
        let mut state = StateDict::new();
        for spec in architecture.conv_specs() {
            if !spec.is_batch_norm() {
                state.insert(format!("{prefix}{}.weight", spec.name), tensor(spec.weight_shape().to_vec(), 0.01));
            }
            let Some(bn) = batch_norm_name(&spec, architecture) else { continue };
            for (param, value) in [("weight", 2.0), ("bias", 0.5), ("running_mean", 0.0), ("running_var", 1.0)] {
                state.insert(format!("{prefix}{bn}.{param}"), tensor(vec![spec.out_channels], value));
            }
        }
        state.insert(format!("{prefix}fc.weight"), tensor(vec![architecture.classes, architecture.features()], 0.1));
        state.insert(format!("{prefix}fc.bias"), tensor(vec![architecture.classes], 0.0));
        state
    }

    #[test]
    fn every_variant_is_recognised_under_any_prefix() {
        for variant in VARIANTS.iter().filter(|v| v.layout == Layout::Torchvision) {
            let architecture = Architecture { classes: 7, ..variant.clone() };
            let params = import_state_dict(&state_dict(&architecture, ""), None).unwrap();
            assert_eq!(params.architecture, architecture);
        }
        let resnet18 = Architecture::named("resnet18", 7).unwrap();
        for prefix in ["module.", "state_dict.module.", "model.", "model_state_dict."] {
            let params = import_state_dict(&state_dict(&resnet18, prefix), None).unwrap();
            assert_eq!(params.architecture, resnet18, "{prefix}");
        }
    }

    #[test]
    fn hugging_faces_names_are_torchvisions_layers() {
        let tensor = FloatTensor { shape: vec![1], values: vec![1.0] };
        let names = [
            "ema_model.resnet.embedder.embedder.convolution.weight",
            "ema_model.classifier.1.weight",
            "model.resnet.embedder.embedder.convolution.weight",
            "model.resnet.embedder.embedder.normalization.running_mean",
            "model.resnet.encoder.stages.1.layers.0.shortcut.normalization.running_var",
            "model.resnet.encoder.stages.3.layers.2.layer.2.convolution.weight",
            "model.classifier.1.bias",
            "model.resnet.encoder.stages.x.layers.0.layer.0.convolution.weight",
            "optimizer.state",
        ];
        let state: StateDict = names.iter().map(|n| (n.to_string(), tensor.clone())).collect();
        let (renamed, hugging_face) = from_hugging_face(state.clone());
        let renamed: Vec<&str> = renamed.keys().map(String::as_str).collect();
        assert!(hugging_face);
        assert_eq!(
            renamed,
            [
                "ema_model.conv1.weight",
                "ema_model.fc.1.weight",
                "model.bn1.running_mean",
                "model.conv1.weight",
                "model.fc.1.bias",
                "model.layer2.0.downsample.1.running_var",
                "model.layer4.2.conv3.weight",
                "model.resnet.encoder.stages.x.layers.0.layer.0.convolution.weight",
                "optimizer.state",
            ]
        );
        let torchvision = state_dict(&Architecture::named("resnet18", 2).unwrap(), "");
        assert_eq!(from_hugging_face(torchvision.clone()), (torchvision, false));
    }

    #[test]
    fn a_resnet_rebuilt_from_its_children_in_a_sequential_is_read() {
        // nn.Sequential(*list(resnet.children())[:-1], nn.Flatten(), nn.Linear(...)): the
        // children in torchvision's order, the stem's ReLU and max pool (2, 3) holding nothing.
        use xai_fixtures::child_name as as_child;
        let resnet18 = Architecture::named("resnet18", 7).unwrap();
        for prefix in ["", "model."] {
            let torchvision = state_dict(&resnet18, prefix);
            let children: StateDict =
                state_dict(&resnet18, "").into_iter().map(|(k, v)| (format!("{prefix}{}", as_child(&k)), v)).collect();
            assert_eq!(from_children(children).unwrap(), torchvision, "{prefix}");
        }
        let body: StateDict = state_dict(&resnet18, "")
            .into_iter()
            .filter(|(k, _)| !k.starts_with("fc."))
            .map(|(k, v)| (format!("0.{}", as_child(&k)), v))
            .collect();
        // Layers of weights after the blocks but one Linear are refused; a torchvision state dict
        // is given back as it is.
        let mut two: StateDict = body.into_iter().map(|(k, v)| (k["0.".len()..].to_string(), v)).collect();
        two.insert("8.weight".into(), FloatTensor { shape: vec![7, 512], values: vec![0.0; 7 * 512] });
        two.insert("10.weight".into(), FloatTensor { shape: vec![7, 7], values: vec![0.0; 49] });
        let error = from_children(two).unwrap_err().to_string();
        assert!(error.contains("after the ResNet's blocks in its Sequential ('8', '10')"), "{error}");
        let torchvision = state_dict(&resnet18, "module.");
        assert_eq!(from_children(torchvision.clone()).unwrap(), torchvision);
        // Nor are blocks where the stem's BatchNorm should be.
        let child =
            |k: String| k.replace("module.layer", "").replace("module.conv1.", "0.").replace("module.bn1.", "1.");
        let odd: StateDict = torchvision.into_iter().map(|(k, v)| (child(k), v)).collect();
        assert_eq!(from_children(odd.clone()).unwrap(), odd);
    }

    /// A ResNet-D's tensor (in timm's names) as fastai's xresnet names it: the deep stem's three
    /// ConvLayers `0` to `2`, the stages `4` to `7`, each block's `convpath` of ConvLayers and its
    /// `idpath` (the ConvLayer after the pooling, `1`, where the stage's stride is 2), the
    /// Linear `11`.
    fn xresnet_name(name: &str) -> String {
        let stem = [("conv1.0.", "0.0."), ("conv1.1.", "0.1."), ("conv1.3.", "1.0."), ("conv1.4.", "1.1.")];
        let stem = stem.into_iter().chain([("conv1.6.", "2.0."), ("bn1.", "2.1."), ("fc.", "11.")]);
        if let Some(renamed) = stem.clone().find_map(|(from, to)| Some(format!("{to}{}", name.strip_prefix(from)?))) {
            return renamed;
        }
        let parts: Vec<&str> = name.splitn(4, '.').collect();
        let [layer, block, module, param] = parts[..] else { return name.to_string() };
        let stage: usize = layer.strip_prefix("layer").unwrap().parse().unwrap();
        let pooled = usize::from(stage > 1);
        let part = match module {
            "downsample" => {
                let (conv, param) = param.split_once('.').unwrap();
                format!("idpath.{pooled}.{}.{param}", if conv == "1" { 0 } else { 1 })
            }
            _ => {
                let (kind, number) = module.split_at(module.len() - 1);
                let number: usize = number.parse().unwrap();
                format!("convpath.{}.{}.{param}", number - 1, if kind == "conv" { 0 } else { 1 })
            }
        };
        format!("{}.{block}.{part}", stage + 3)
    }

    #[test]
    fn fastais_xresnet_is_read_as_resnet_d() {
        for name in ["resnet18", "resnet50"] {
            let resnet_d = Architecture {
                stem: Stem::deep([32, 32]),
                shortcuts: Shortcuts::AveragePooled,
                ..Architecture::named(name, 7).unwrap()
            };
            let timm = state_dict(&resnet_d, "");
            // `Learner(dls, xresnet50(n_out=7))`, as `learn.save` saves it.
            let xresnet: StateDict =
                timm.iter().map(|(k, v)| (format!("model.{}", xresnet_name(k)), v.clone())).collect();
            assert!(xresnet.contains_key("model.5.0.idpath.1.0.weight"), "{name}");
            let renamed = from_children(xresnet).unwrap();
            let names = |state: &StateDict| state.keys().cloned().collect::<Vec<_>>();
            assert_eq!(names(&renamed), timm.keys().map(|k| format!("model.{k}")).collect::<Vec<_>>(), "{name}");
            assert_eq!(import_state_dict(&renamed, None).unwrap().architecture, resnet_d, "{name}");
        }
        // `vision_learner(dls, xresnet50)`: the body (its children but the pooling and head) `0.`,
        // fastai's head `1.`.
        let resnet_d = Architecture {
            stem: Stem::deep([32, 32]),
            shortcuts: Shortcuts::AveragePooled,
            ..Architecture::named("resnet50", 7).unwrap()
        };
        let mut state: StateDict = state_dict(&resnet_d, "")
            .into_iter()
            .filter(|(k, _)| !k.starts_with("fc."))
            .map(|(k, v)| (format!("model.0.{}", xresnet_name(&k)), v))
            .collect();
        let tensor = |shape: Vec<usize>| FloatTensor { values: vec![0.01; shape.iter().product()], shape };
        state.insert("model.1.2.weight".into(), tensor(vec![512, 4096]));
        state.insert("model.1.4.weight".into(), tensor(vec![7, 512]));
        let params = import_state_dict(&from_children(state).unwrap(), None).unwrap();
        assert_eq!(params.architecture.head, Head { max_and_average: true, hidden: vec![512] });
        assert_eq!((params.architecture.stem, params.architecture.shortcuts), (resnet_d.stem, resnet_d.shortcuts));
    }

    /// fastai's `vision_learner` model: the body `0.` (the ResNet's children), its head `1.`:
    /// max and average pooling (nothing saved), BatchNorm1d `1.2`, Linear `1.4` (no bias),
    /// BatchNorm1d `1.6`, Linear `1.8`, under `model.` as `learn.save` writes it.
    fn fastai(resnet: &Architecture, head: &[(String, Vec<usize>, f32)]) -> StateDict {
        let mut state: StateDict = state_dict(resnet, "")
            .into_iter()
            .filter(|(k, _)| !k.starts_with("fc."))
            .map(|(k, v)| (format!("model.0.{}", xai_fixtures::child_name(&k)), v))
            .collect();
        for (name, shape, value) in head {
            let values = vec![*value; shape.iter().product()];
            state.insert(format!("model.1.{name}"), FloatTensor { shape: shape.clone(), values });
        }
        state
    }

    #[test]
    fn fastais_head_is_read_its_batch_norms_folded_into_its_linears() {
        let resnet18 = Architecture::named("resnet18", 7).unwrap();
        let norm = |i: usize, n: usize| {
            [("weight", 2.0), ("bias", 0.5), ("running_mean", 1.0), ("running_var", 4.0 - BATCH_NORM_EPSILON)]
                .map(|(param, value)| (format!("{i}.{param}"), vec![n], value))
        };
        let mut head: Vec<(String, Vec<usize>, f32)> = norm(2, 1024).into();
        head.push(("4.weight".into(), vec![512, 1024], 0.01));
        head.extend(norm(6, 512));
        head.push(("8.weight".into(), vec![7, 512], 0.1));
        let state = from_children(fastai(&resnet18, &head)).unwrap();
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!(params.architecture.head, Head { max_and_average: true, hidden: vec![512] });
        // With a timm body (`vision_learner(dls, 'resnet18')`): `TimmBody` holds the ResNet as
        // its `model`, named as torchvision's, its fc an Identity.
        let timm: StateDict = state
            .iter()
            .map(|(k, v)| {
                (k.strip_prefix("model.0.").map_or(k.clone(), |own| format!("model.0.model.{own}")), v.clone())
            })
            .collect();
        assert_eq!(import_state_dict(&timm, None).unwrap(), params);
        assert_eq!(
            params.architecture.to_string(),
            "resnet18 (a head of max and average pooling and a hidden Linear of 512)"
        );
        // s = 2 / sqrt(4) = 1, t = 0.5 - 1 x 1 = -0.5: w' = w, b' = sum of w t.
        let (hidden, fc) = (&params.hidden[0], &params.fc);
        assert_eq!((hidden.weight.len(), hidden.weight[0]), (512 * 1024, 0.01));
        assert!(hidden.bias.iter().all(|b| (b + 0.01 * 0.5 * 1024.0).abs() < 1e-5), "{}", hidden.bias[0]);
        assert!(fc.bias.iter().all(|b| (b + 0.1 * 0.5 * 512.0).abs() < 1e-4), "{}", fc.bias[0]);
        assert_eq!(left_out(&state, &params.architecture), Vec::<String>::new());

        // Without concat pooling (`concat_pool=False`), the first Linear reads the channels.
        let mut average = head.clone();
        average[..4].iter_mut().for_each(|(_, shape, _)| *shape = vec![512]);
        average[4].1 = vec![512, 512];
        let params = import_state_dict(&from_children(fastai(&resnet18, &average)).unwrap(), None).unwrap();
        assert_eq!(params.architecture.head, Head { max_and_average: false, hidden: vec![512] });

        // Widths that do not chain, and layers that are neither, are refused.
        let refused = |head: &[(String, Vec<usize>, f32)]| {
            import_state_dict(&from_children(fastai(&resnet18, head)).unwrap(), None).unwrap_err().to_string()
        };
        let mut unchained = head.clone();
        unchained[9].1 = vec![7, 256];
        assert!(
            refused(&unchained).contains("'model.1.8.weight' has shape [7, 256], expected [7, 512]"),
            "{}",
            refused(&unchained)
        );
        let mut convolution = head.clone();
        convolution[4].1 = vec![512, 1024, 1, 1];
        assert!(refused(&convolution).contains("neither a Linear nor a BatchNorm1d"), "{}", refused(&convolution));
        let mut wide = head.clone();
        wide[..4].iter_mut().for_each(|(_, shape, _)| *shape = vec![768]);
        wide[4].1 = vec![512, 768];
        assert!(
            refused(&wide).contains("reads 768 features, where a resnet18's pooling gives 512"),
            "{}",
            refused(&wide)
        );
    }

    #[test]
    fn pytorch_cifars_names_are_torchvisions_layers() {
        let resnet18 = Architecture::named("resnet18", 7).unwrap();
        let state = state_dict(&resnet18, "module.");
        let renamed = |k: &String| k.replace(".downsample.", ".shortcut.").replace("fc.", "linear.");
        let kuangliu: StateDict = state.iter().map(|(k, v)| (renamed(k), v.clone())).collect();
        assert!(kuangliu.contains_key("module.layer2.0.shortcut.1.running_var"));
        assert_eq!(import_state_dict(&kuangliu, None), import_state_dict(&state, None));
        assert_eq!(left_out(&kuangliu, &resnet18), Vec::<String>::new());
        // What is wrong with a tensor is said by the file's name for it, a missing one's too.
        let naming = Naming::of(&kuangliu, "module.");
        assert!(kuangliu.keys().all(|k| naming.file(&naming.torchvision(&k["module.".len()..])) == *k));
        let mut cut = kuangliu.clone();
        cut.retain(|k, _| !k.starts_with("module.layer2.0.shortcut."));
        assert_eq!(
            import_state_dict(&cut, None),
            Err(ImportError::Missing("module.layer2.0.shortcut.0.weight".into()))
        );
        let mut wrong = kuangliu.clone();
        wrong.get_mut("module.linear.weight").unwrap().shape = vec![7, 256];
        let error = import_state_dict(&wrong, None).unwrap_err().to_string();
        assert!(error.starts_with("tensor 'module.linear.weight' has shape [7, 256]"), "{error}");
        // Its shortcuts' names with torchvision's head, as some copies have it.
        let shortcuts: StateDict =
            state.iter().map(|(k, v)| (k.replace(".downsample.", ".shortcut."), v.clone())).collect();
        assert_eq!(import_state_dict(&shortcuts, None), import_state_dict(&state, None));
        // Three stages are He et al.'s CIFAR ResNets, of 16 to 64 channels: not a resnet18's.
        let mut three = state;
        three.retain(|k, _| !k.starts_with("module.layer4."));
        let error = import_state_dict(&three, None).unwrap_err().to_string();
        assert!(
            error.contains(
                "a ResNet of basic blocks [2, 2, 2] of 64 channels at first after a stem of 64 channels is none"
            ),
            "{error}"
        );
        // Or the same with BatchNorm and ReLU before the head: a Wide ResNet, by its widths.
        let mut head_norm = three;
        head_norm.extend(
            state_dict(&Architecture::named("wrn-16-4", 7).unwrap(), "module.")
                .into_iter()
                .filter(|(k, _)| k.starts_with("module.norm.")),
        );
        head_norm.retain(|k, _| !k.starts_with("module.bn1."));
        let error = import_state_dict(&head_norm, None).unwrap_err().to_string();
        assert!(error.contains("none of the supported variants"), "{error}");
        // A pre-activation one with a BatchNorm after its stem, by its blocks' BatchNorms.
        let mut stem_norm = state_dict(&Architecture::named("preact_resnet18", 7).unwrap(), "");
        stem_norm.extend(state_dict(&resnet18, "").into_iter().filter(|(k, _)| k.starts_with("bn1.")));
        let error = import_state_dict(&stem_norm, None).unwrap_err().to_string();
        assert!(error.contains("a pre-activation ResNet with a BatchNorm after its stem"), "{error}");
    }

    #[test]
    fn pre_activation_resnets_are_read_as_their_codes_name_them() {
        // kuangliu's PreActResNet18: no BatchNorm after the stem, each block's before its convs.
        let preact = Architecture::named("preact_resnet18", 7).unwrap();
        let state = state_dict(&preact, "module.");
        let renamed = |k: &String| k.replace(".downsample.", ".shortcut.").replace("fc.", "linear.");
        let kuangliu: StateDict = state.iter().map(|(k, v)| (renamed(k), v.clone())).collect();
        assert!(
            kuangliu.contains_key("module.layer2.0.shortcut.0.weight") && !kuangliu.contains_key("module.bn1.weight")
        );
        let params = import_state_dict(&kuangliu, None).unwrap();
        assert_eq!((&params.architecture, left_out(&kuangliu, &preact)), (&preact, Vec::new()));
        // Its first block: bn1 alone (scale 2 / sqrt(1 + eps), shift 0.5), conv1 with bn2 folded,
        // conv2 as it is (the next block's bn1 follows it).
        let scale = 2.0 / (1.0 + BATCH_NORM_EPSILON).sqrt();
        let first: Vec<(f32, f32)> = params.convs[1..4].iter().map(|c| (c.weight[0], c.bias[0])).collect();
        assert_eq!(first, [(scale, 0.5), (0.01 * scale, 0.5), (0.01, 0.0)]);
        // The stem, no BatchNorm.
        assert_eq!(params.convs[0].weight[0], 0.01);
        // Wong et al.'s (fast adversarial training): a BatchNorm and ReLU before the head, `bn`.
        let wong =
            Architecture { order: Order::PreActivation { head_norm: true, projects_input: false }, ..preact.clone() };
        let renamed = |k: &String| renamed(k).replace("module.norm.", "module.bn.");
        let state: StateDict = state_dict(&wong, "module.").iter().map(|(k, v)| (renamed(k), v.clone())).collect();
        assert!(state.contains_key("module.bn.running_var"));
        let naming = Naming::of(&state, "module.");
        assert!(state.keys().all(|k| naming.file(&naming.torchvision(&k["module.".len()..])) == *k));
        let params = import_state_dict(&state, Some("preact_resnet18")).unwrap();
        assert_eq!((&params.architecture, left_out(&state, &wong)), (&wong, Vec::new()));
        // RobustBench's Wide ResNets: `block1.layer.0`, `convShortcut`, the BatchNorm before the
        // head `bn1`.
        let wrn = Architecture::named("wrn-28-10", 10).unwrap();
        let robustbench = |k: &String| match k.strip_prefix("norm.") {
            Some(param) => format!("bn1.{param}"),
            None => {
                let k = k.replacen(".downsample.0.", ".convShortcut.", 1);
                (1..4).fold(k, |k, n| k.replacen(&format!("layer{n}."), &format!("block{n}.layer."), 1))
            }
        };
        let state: StateDict = state_dict(&wrn, "").iter().map(|(k, v)| (robustbench(k), v.clone())).collect();
        assert!(state.contains_key("block1.layer.0.convShortcut.weight") && state.contains_key("bn1.running_var"));
        let naming = Naming::of(&state, "");
        assert!(state.keys().all(|k| naming.file(&naming.torchvision(k)) == *k));
        let mut cut = state.clone();
        cut.remove("block3.layer.0.convShortcut.weight");
        assert_eq!(
            import_state_dict(&cut, None),
            Err(ImportError::Missing("block3.layer.0.convShortcut.weight".into()))
        );
        let mut negative = state.clone();
        negative.get_mut("block2.layer.1.bn1.running_var").unwrap().values[0] = -1.0;
        assert_eq!(import_state_dict(&negative, None), Err(ImportError::BadBatchNorm("block2.layer.1.bn1".into())));
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!((&params.architecture, left_out(&state, &wrn)), (&wrn, Vec::new()));
        assert_eq!(params.convs.last().map(|norm| norm.weight.len()), Some(640));
        let error = import_state_dict(&state, Some("wrn-28-4")).unwrap_err().to_string();
        assert!(error.contains("holds a wrn-28-10, not the wrn-28-4"), "{error}");
    }

    #[test]
    fn the_deeper_cifar_resnets_of_bottleneck_blocks_are_read_as_bearpaw_names_them() {
        // pytorch-classification's `resnet`: He et al.'s CIFAR ResNet of bottlenecks, torchvision's
        // names, projections with BatchNorm.
        let resnet164 = Architecture::named("resnet164", 10).unwrap();
        let state = state_dict(&resnet164, "module.");
        assert!(state.contains_key("module.layer1.0.downsample.1.running_var"));
        assert_eq!(import_state_dict(&state, None).unwrap().architecture, resnet164);
        // Its `preresnet`: no BatchNorm after the stem, `bn` before the head, and projections of
        // the blocks' input as it came, named `downsample.0`.
        let preact = Architecture::named("preact_resnet164", 10).unwrap();
        assert!(preact.projects_input() && preact.block_specs()[0][0].projects_input);
        let bearpaw = |k: &String| k.replace("norm.", "bn.");
        let state: StateDict = state_dict(&preact, "").iter().map(|(k, v)| (bearpaw(k), v.clone())).collect();
        assert!(state.contains_key("layer3.0.downsample.0.weight") && state.contains_key("bn.running_var"));
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!((&params.architecture, left_out(&state, &preact)), (&preact, Vec::new()));
        // The same blocks under kuangliu's names project them pre-activated.
        let kuangliu: StateDict =
            state.iter().map(|(k, v)| (k.replace(".downsample.", ".shortcut."), v.clone())).collect();
        let read = import_state_dict(&kuangliu, None).unwrap().architecture;
        assert_eq!(read.to_string(), "preact_resnet164 (projections of the pre-activated input)");
        // Other depths are no variant.
        let mut shallower = state.clone();
        shallower.retain(|k, _| !k.starts_with("layer3.17."));
        let error = import_state_dict(&shallower, None).unwrap_err().to_string();
        let shape = "bottleneck blocks [18, 18, 17] (1 groups of 16 channels at first) of 16 channels at first";
        assert!(error.contains(&format!("pre-activation (BatchNorm before the head) {shape}")), "{error}");
    }

    #[test]
    fn cifar_resnets_are_read_with_their_shortcuts() {
        // chenyaofo's pytorch-cifar-models and torchdistill: torchvision's names and projections.
        let resnet56 = Architecture::named("resnet56", 10).unwrap();
        let projections = state_dict(&resnet56, "");
        assert!(projections.contains_key("layer3.0.downsample.1.running_var"));
        let read = import_state_dict(&projections, None).unwrap();
        assert_eq!(read.architecture, resnet56);
        // One stage's projection missing is a file cut short, not option A.
        let mut cut = projections.clone();
        cut.retain(|k, _| !k.starts_with("layer2.0.downsample."));
        assert_eq!(import_state_dict(&cut, None), Err(ImportError::Missing("layer2.0.downsample.0.weight".into())));
        // akamaster's pytorch_resnet_cifar10 (option A, trained with DataParallel): no shortcut
        // weights, its head `linear`.
        let padded = Architecture { shortcuts: Shortcuts::ZeroPadding, ..Architecture::named("resnet20", 10).unwrap() };
        let akamaster: StateDict =
            state_dict(&padded, "module.").into_iter().map(|(k, v)| (k.replace(".fc.", ".linear."), v)).collect();
        assert!(akamaster.keys().all(|k| !k.contains("downsample") && !k.contains("fc")));
        let read = import_state_dict(&akamaster, None).unwrap();
        assert_eq!((read.architecture.to_string(), read.convs.len()), ("resnet20 (zero-padding shortcuts)".into(), 19));
        assert_eq!(left_out(&akamaster, &read.architecture), Vec::<String>::new());
        assert_eq!(import_state_dict(&akamaster, Some("resnet20")), Ok(read));
        let error = import_state_dict(&akamaster, Some("resnet32")).unwrap_err().to_string();
        assert!(error.contains("holds a resnet20, not the resnet32"), "{error}");
    }

    #[test]
    fn batch_norm_is_folded_with_torchvisions_epsilon() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let params = import_state_dict(&state_dict(&architecture, ""), None).unwrap();
        let scale = 2.0 / (1.0 + BATCH_NORM_EPSILON).sqrt();
        assert_eq!(params.convs[0].weight[0], 0.01 * scale);
        assert_eq!(params.convs[0].bias[0], 0.5);
        let spec = |name: &str| ConvSpec { name: name.into(), ..architecture.stem_specs()[0].clone() };
        assert_eq!(batch_norm_name(&spec("layer3.1.conv2"), &architecture).unwrap(), "layer3.1.bn2");
        assert_eq!(batch_norm_name(&spec("layer3.0.downsample.0"), &architecture).unwrap(), "layer3.0.downsample.1");
    }

    #[test]
    fn other_networks_and_broken_heads_are_named() {
        let mut vgg = StateDict::new();
        let tensor = FloatTensor { shape: vec![1], values: vec![0.0] };
        vgg.insert("features.0.weight".into(), tensor.clone());
        vgg.insert("classifier.6.weight".into(), tensor);
        let error = import_state_dict(&vgg, None).unwrap_err().to_string();
        assert!(error.starts_with("not a torchvision ResNet: it looks like a VGG"), "{error}");
        assert!(error.contains("resnet10, resnet14, resnet18, resnet26, resnet34"), "{error}");

        let empty_head = state_dict(&Architecture::named("resnet18", 0).unwrap(), "");
        assert_eq!(import_state_dict(&empty_head, None), Err(ImportError::NoClasses));

        let resnet18 = state_dict(&Architecture::named("resnet18", 3).unwrap(), "");
        let error = import_state_dict(&resnet18, Some("resnet50")).unwrap_err();
        assert_eq!(error.to_string(), "the file holds a resnet18, not the resnet50 asked for with --arch");
        let mut cut = resnet18.clone();
        cut.remove("layer4.1.bn2.running_var");
        assert_eq!(import_state_dict(&cut, None), Err(ImportError::Missing("layer4.1.bn2.running_var".into())));
        // Another network's tensors beside a ResNet's are read past, and named.
        let mut extra = resnet18.clone();
        for name in ["fc2.weight", "aux.0.bias"] {
            extra.insert(name.into(), FloatTensor { shape: vec![1], values: vec![0.0] });
        }
        let architecture = import_state_dict(&extra, None).unwrap().architecture;
        assert_eq!(left_out(&extra, &architecture), ["aux.0.bias", "fc2.weight"]);
        // Converted, it would be refused when loaded: said at once, by the BatchNorm to blame.
        let mut negative = resnet18.clone();
        negative.get_mut("layer1.0.bn1.running_var").unwrap().values[3] = -1.0;
        assert_eq!(import_state_dict(&negative, None), Err(ImportError::BadBatchNorm("layer1.0.bn1".into())));
        let mut wrong = resnet18.clone();
        wrong.get_mut("layer2.0.conv1.weight").unwrap().shape = vec![128, 64, 1, 1];
        assert!(matches!(import_state_dict(&wrong, None), Err(ImportError::WrongShape { .. })));

        // fc = Sequential(Dropout, Linear) is read as its Linear; a second layer of weights is not.
        let mut dropout = resnet18.clone();
        for param in ["weight", "bias"] {
            let tensor = dropout.remove(&format!("fc.{param}")).unwrap();
            dropout.insert(format!("fc.1.{param}"), tensor);
        }
        assert_eq!(import_state_dict(&dropout, None), import_state_dict(&resnet18, None));
        assert_eq!(left_out(&dropout, &architecture), Vec::<String>::new(), "a Sequential head is read");
        let mut two = dropout.clone();
        two.insert("fc.3.weight".into(), FloatTensor { shape: vec![3, 3], values: vec![0.0; 9] });
        assert_eq!(import_state_dict(&two, None), Err(ImportError::Head("fc.1, fc.3".into())));
        let mut headless = resnet18.clone();
        headless.retain(|name, _| !name.starts_with("fc."));
        assert_eq!(import_state_dict(&headless, None), Err(ImportError::NoHead));
    }

    #[test]
    fn the_one_linear_beside_a_headless_resnet_is_its_head() {
        let resnet18 = Architecture::named("resnet18", 3).unwrap();
        let mut state = state_dict(&resnet18, "state_dict.backbone.");
        let head: Vec<(String, FloatTensor)> = state
            .extract_if(.., |k, _| k.contains(".fc."))
            .map(|(k, v)| (k.replace("backbone.fc", "head.fc"), v))
            .collect();
        state.extend(head);
        state.insert("optimizer.state.0.exp_avg".into(), FloatTensor { shape: vec![2, 2], values: vec![0.0; 4] });
        assert_eq!(head_beside(&state), Ok(Some("state_dict.head.fc".to_string())));
        assert_eq!(import_state_dict(&state, None), import_state_dict(&state_dict(&resnet18, ""), None));
        assert_eq!(left_out(&state, &resnet18), Vec::<String>::new());
        // Beside a network with a head of its own, nothing is; beside one without, more than one
        // Linear (a second layer, a cosine head's scale, a BatchNorm's statistics) is refused.
        assert_eq!(head_beside(&state_dict(&resnet18, "backbone.")), Ok(None));
        let tensor = |shape: Vec<usize>| FloatTensor { values: vec![0.0; shape.iter().product()], shape };
        for (name, shape) in [("state_dict.aux.weight", vec![3, 512]), ("state_dict.head.scale", vec![1])] {
            let mut more = state.clone();
            more.insert(name.into(), tensor(shape));
            let error = import_state_dict(&more, None);
            assert!(matches!(error, Err(ImportError::HeadBeside { count: 3, .. })), "{name}: {error:?}");
        }
    }

    #[test]
    fn resnet_d_its_deep_stem_and_average_pooled_shortcuts_are_read_in_timms_names() {
        let resnet_d = Architecture {
            stem: Stem::deep([32, 32]),
            shortcuts: Shortcuts::AveragePooled,
            ..Architecture::named("resnet26", 7).unwrap()
        };
        let state = state_dict(&resnet_d, "");
        for name in
            ["conv1.0.weight", "conv1.1.running_var", "conv1.6.weight", "bn1.weight", "layer1.0.downsample.1.weight"]
        {
            assert!(state.contains_key(name), "{name}");
        }
        // Where the stride is 1 (layer1.0), timm's pooling is an Identity: a projection alone.
        let blocks = resnet_d.block_specs();
        assert!(
            matches!(&blocks[0][0].shortcut, crate::architecture::Shortcut::Projection(spec) if spec.name == "layer1.0.downsample.1")
        );
        assert!(
            matches!(&blocks[1][0].shortcut, crate::architecture::Shortcut::Pooled { stride: 2, projection } if projection.stride == 1)
        );
        assert_eq!(state.keys().filter(|k| k.ends_with("downsample.2.weight")).count(), 4);
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!(params.architecture, resnet_d);
        assert_eq!(
            resnet_d.to_string(),
            "resnet26 (deep stem of three 3x3 convolutions, 32 and 32 wide before the last, of stride 2, then max pooling, average-pooled shortcuts)"
        );
        assert!(left_out(&state, &resnet_d).is_empty());
        // A deep stem without average pooling (ResNet-C, timm's resnet50c) keeps torchvision's
        // projections; one of 128 channels (timm's resnet50s) is its own width.
        let resnet_c = Architecture { shortcuts: Shortcuts::Projection, ..resnet_d };
        assert_eq!(import_state_dict(&state_dict(&resnet_c, ""), None).unwrap().architecture, resnet_c);
        let resnet_s = Architecture { stem: Stem::deep([64, 64]), stem_width: 128, ..resnet_c.clone() };
        assert_eq!(import_state_dict(&state_dict(&resnet_s, ""), None).unwrap().architecture, resnet_s);
        // A stem of no channels is none.
        let mut empty = state_dict(&resnet_c, "");
        empty.insert("conv1.0.weight".into(), FloatTensor { shape: vec![0, 3, 3, 3], values: Vec::new() });
        let error = import_state_dict(&empty, None).unwrap_err().to_string();
        assert!(error.contains("a deep stem of [0, 32, 64] channels"), "{error}");
        assert!(
            resnet_s
                .to_string()
                .ends_with("64 and 64 wide before the last, of stride 2, then max pooling, a stem of 128 channels)"),
            "{resnet_s}"
        );
    }

    #[test]
    fn networks_named_as_resnets_but_computing_more_are_refused() {
        let resnet18 = state_dict(&Architecture::named("resnet18", 3).unwrap(), "");
        let tensor = FloatTensor { shape: vec![4], values: vec![1.0; 4] };
        let refused = |names: &[&str], removed: &[&str]| {
            let mut state = resnet18.clone();
            names.iter().for_each(|name| drop(state.insert(name.to_string(), tensor.clone())));
            removed.iter().for_each(|name| drop(state.remove(*name)));
            match import_state_dict(&state, None) {
                Err(ImportError::NotPlain(why)) => why,
                other => panic!("{names:?}: {other:?}"),
            }
        };
        let se = refused(&["layer1.0.se.fc1.weight", "layer1.0.se.fc1.bias", "layer3.1.se.fc2.bias"], &[]);
        assert!(se.starts_with("3 tensors inside the blocks") && se.contains("'layer1.0.se.fc1.bias'"), "{se}");
        assert!(refused(&["conv1.0.weight"], &["conv1.weight"]).contains("deep stem"));
        let stem = |kernel| {
            let mut state = resnet18.clone();
            let weight = FloatTensor { shape: vec![64, 3, kernel, kernel], values: vec![0.01; 192 * kernel * kernel] };
            state.insert("conv1.weight".into(), weight);
            import_state_dict(&state, None)
        };
        assert_eq!(stem(3).unwrap().architecture.stem, Stem::CIFAR);
        assert!(matches!(stem(5), Err(ImportError::NotPlain(why)) if why.contains("a stem of a 5x5 convolution")));
        assert!(refused(&["layer2.0.conv1.weight_orig", "layer2.0.conv1.weight_mask"], &["layer2.0.conv1.weight"])
            .contains("torch.nn.utils.prune.remove"));
        assert!(refused(&["fc.parametrizations.weight.original0"], &["fc.weight"]).contains("remove_parametrizations"));
    }

    #[test]
    fn a_linear_after_the_resnet_is_folded_into_its_head() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let mut state = state_dict(&architecture, "model.0.");
        state.insert("model.0.fc.bias".into(), FloatTensor { shape: vec![3], values: vec![1.0, 2.0, 3.0] });
        // Linear(3, 2) after the ResNet's fc (every weight 0.1, so each feature sums to 0.1 x row).
        let linear = FloatTensor { shape: vec![2, 3], values: vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5] };
        state.insert("model.1.weight".into(), linear);
        state.insert("model.1.bias".into(), FloatTensor { shape: vec![2], values: vec![10.0, 20.0] });
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!(params.architecture.classes, 2);
        let features = architecture.features();
        assert_eq!(params.fc.weight.len(), 2 * features);
        assert!(params.fc.weight[..features].iter().all(|w| w.abs() < 1e-7), "(1 - 1) x 0.1");
        assert!(params.fc.weight[features..].iter().all(|w| (w - 0.15).abs() < 1e-7), "1.5 x 0.1");
        assert_eq!(params.fc.bias, [1.0 - 3.0 + 10.0, 3.0 + 20.0]);
        // Anything between the two (a ReLU at 1, the Linear at 2) makes them another network.
        for param in ["weight", "bias"] {
            let tensor = state.remove(&format!("model.1.{param}")).unwrap();
            state.insert(format!("model.2.{param}"), tensor);
        }
        let error = import_state_dict(&state, None).unwrap_err().to_string();
        assert!(error.contains("layers after the ResNet ('model.2')"), "{error}");
    }

    #[test]
    fn a_head_after_the_resnet_is_read_from_what_the_resnet_s_own_became() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let linear = FloatTensor { shape: vec![2, 3], values: vec![1.0, 0.0, -1.0, 0.5, 0.5, 0.5] };
        let bias = |values: Vec<f32>| FloatTensor { shape: vec![values.len()], values };
        // fc = Sequential(Dropout, Linear), then a Linear: the fold reads the renamed fc's bias.
        let mut state = state_dict(&architecture, "0.");
        for param in ["weight", "bias"] {
            let tensor = state.remove(&format!("0.fc.{param}")).unwrap();
            state.insert(format!("0.fc.1.{param}"), tensor);
        }
        state.insert("0.fc.1.bias".into(), bias(vec![1.0, 2.0, 3.0]));
        state.insert("1.weight".into(), linear.clone());
        state.insert("1.bias".into(), bias(vec![10.0, 20.0]));
        let params = import_state_dict(&state, None).unwrap();
        assert_eq!(params.fc.bias, [8.0, 23.0]);
        assert_eq!(left_out(&state, &params.architecture), Vec::<String>::new(), "the folded Linear is read");
        // A bias of the wrong length is refused, not read past its end.
        state.insert("1.bias".into(), bias(vec![10.0]));
        assert!(matches!(import_state_dict(&state, None), Err(ImportError::WrongShape { .. })));
        // After a ResNet whose fc is an Identity, the Linear is its head.
        let mut identity = state_dict(&architecture, "0.");
        identity.retain(|name, _| !name.starts_with("0.fc."));
        let features = architecture.features();
        identity.insert("1.weight".into(), FloatTensor { shape: vec![2, features], values: vec![0.5; 2 * features] });
        let params = import_state_dict(&identity, None).unwrap();
        assert_eq!((params.architecture.classes, params.fc.weight[0], params.fc.bias.clone()), (2, 0.5, vec![0.0; 2]));
        // A layer with weights before the ResNet (here a mean without its std) is refused.
        let mut before = state_dict(&architecture, "1.");
        before.insert("0.mean".into(), bias(vec![0.5; 3]));
        let error = import_state_dict(&before, None).unwrap_err().to_string();
        assert!(error.contains("layers with weights before the ResNet ('0')"), "{error}");
        // Networks side by side (an ensemble, a model per fold) are copies, not layers.
        let mut ensemble = state_dict(&architecture, "0.");
        ensemble.extend(state_dict(&architecture, "1."));
        assert_eq!(import_state_dict(&ensemble, None).unwrap().architecture, architecture);
        // Folded, a Linear may not ask for far more memory than the file holds.
        let one = Architecture::named("resnet18", 1).unwrap();
        let mut huge = state_dict(&one, "0.");
        huge.insert("1.weight".into(), FloatTensor { shape: vec![100_000, 1], values: vec![1.0; 100_000] });
        let error = import_state_dict(&huge, None).unwrap_err().to_string();
        assert!(error.contains("far larger folded than saved"), "{error}");
    }

    #[test]
    fn a_normalisation_saved_with_the_network_is_read() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let three = |shape: Vec<usize>, values: [f32; 3]| FloatTensor { shape, values: values.to_vec() };
        let with = |mut state: StateDict, module: &str, names: [&str; 2], mean: [f32; 3], std: [f32; 3]| {
            state.insert(format!("{module}{}", names[0]), three(vec![1, 3, 1, 1], mean));
            state.insert(format!("{module}{}", names[1]), three(vec![1, 3, 1, 1], std));
            state
        };
        let (mean, std) = ([0.5, 0.4, 0.3], [0.2, 0.2, 0.25]);
        // nn.Sequential(Normalize(mean, std), resnet), also with the ResNet in a DataParallel.
        for network in ["1.", "1.module."] {
            let state = with(state_dict(&architecture, network), "0.", ["mean", "std"], mean, std);
            assert_eq!(import_state_dict(&state, None).unwrap().architecture, architecture);
            let read = Normalization { module: "0".into(), mean, std, scaled: false };
            assert_eq!(normalization(&state).unwrap(), Some(read), "{network}");
            assert_eq!(left_out(&state, &architecture), Vec::<String>::new());
        }
        // A ResNet subclass's own `self.normalize`, saved inside the network, also in a DataParallel.
        for network in ["", "module."] {
            let state =
                with(state_dict(&architecture, network), &format!("{network}normalize."), ["mean", "std"], mean, std);
            assert_eq!(import_state_dict(&state, None).unwrap().architecture, architecture);
            let read = Normalization { module: format!("{network}normalize"), mean, std, scaled: false };
            assert_eq!(normalization(&state).unwrap(), Some(read), "{network}");
            assert_eq!(left_out(&state, &architecture), Vec::<String>::new());
        }
        // Bare buffers: a ResNet subclass's own `self.mu` and `self.sigma` (RobustBench's
        // Hendrycks2020AugMix WRN), also in a DataParallel, or a wrapper's beside its `model`.
        for (network, level, names) in
            [("", "", ["mu", "sigma"]), ("module.", "module.", ["mu", "sigma"]), ("model.", "", ["mu", "std"])]
        {
            let state = with(state_dict(&architecture, network), level, names, mean, std);
            let place = format!("{level}{} and {level}{}", names[0], names[1]);
            let read = Normalization { module: place, mean, std, scaled: false };
            assert_eq!(normalization(&state).unwrap(), Some(read), "{network}");
            assert_eq!(left_out(&state, &architecture), Vec::<String>::new());
        }
        // More bare tensors than the two are no normalisation.
        let mut three_bare = with(state_dict(&architecture, ""), "", ["mu", "sigma"], mean, std);
        three_bare.insert("temperature".into(), FloatTensor { shape: vec![1], values: vec![1.0] });
        assert_eq!(normalization(&three_bare).unwrap(), None);
        // The robustness library's, for pixels in [0, 255], and its attacker's copy of it; the
        // model is read, not the attacker's copy.
        let mut robust = state_dict(&architecture, "module.model.");
        robust.extend(state_dict(&architecture, "module.attacker.model."));
        let imagenet = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]);
        for owner in ["module.normalizer.", "module.attacker.normalize."] {
            robust = with(robust, owner, ["new_mean", "new_std"], imagenet.0, imagenet.1);
        }
        assert_eq!(root(&robust), Some("module.model."));
        assert_eq!(left_out(&robust, &architecture), Vec::<String>::new(), "the copy's normalisation is the copy's");
        let read = normalization(&robust).unwrap().unwrap();
        assert!(read.scaled && (read.mean[0] - 0.485).abs() < 1e-6 && (read.std[2] - 0.225).abs() < 1e-6, "{read:?}");
        // Copies that differ are refused, as are two one after another.
        let differ = with(robust, "module.attacker.normalize.", ["new_mean", "new_std"], mean, std);
        assert!(normalization(&differ).unwrap_err().to_string().contains("normalise differently"));
        let chained = with(
            with(state_dict(&architecture, "2."), "0.", ["mean", "std"], mean, std),
            "1.",
            ["mean", "std"],
            mean,
            std,
        );
        assert!(normalization(&chained).unwrap_err().to_string().contains("one after another ('0', '1')"));
        // Normalize(0, 255): a model of pixels in [0, 255].
        let bytes = with(state_dict(&architecture, "1."), "0.", ["mean", "std"], [0.0; 3], [255.0; 3]);
        assert_eq!(normalization(&bytes).unwrap().map(|n| (n.mean, n.std)), Some(([0.0; 3], [1.0; 3])));
        // Statistics no photo's pixels take are refused, naming what the file saves.
        let zero = with(state_dict(&architecture, "1."), "0.", ["mean", "std"], mean, [0.2, 0.0, 0.25]);
        let error = normalization(&zero).unwrap_err().to_string();
        assert!(error.contains("std [0.2, 0, 0.25], which photos' pixels do not take"), "{error}");
        // What may not normalise the input is not read but named as left out: a module beside the
        // network not named as a normalisation (a calibration after it), statistics under other
        // names; one of them alone before the network is a layer of its own, refused.
        let calibration = with(state_dict(&architecture, "net."), "calib.", ["mean", "std"], mean, std);
        let inverse = with(state_dict(&architecture, "net."), "normalize.", ["mu", "inv_std"], mean, std);
        for (state, first) in [(calibration, "calib.mean"), (inverse, "normalize.inv_std")] {
            assert_eq!(normalization(&state).unwrap(), None);
            assert_eq!(left_out(&state, &architecture)[0], first);
        }
        let mut alone = state_dict(&architecture, "1.");
        alone.insert("0.mean".into(), three(vec![3], mean));
        assert!(matches!(import_state_dict(&alone, None), Err(ImportError::NotPlain(_))));
        assert_eq!(normalization(&state_dict(&architecture, "")).unwrap(), None);
    }

    #[test]
    fn of_two_copies_of_the_network_the_trained_one_is_read() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let mut state = state_dict(&architecture, "ema.");
        state.extend(state_dict(&architecture, "model."));
        state.get_mut("model.fc.bias").unwrap().values[0] = 5.0;
        assert_eq!(roots(&state), ["ema.", "model."]);
        assert_eq!(import_state_dict(&state, None).unwrap().fc.bias[0], 5.0);
        // "ema" as a word, not inside one; a mirror of the names without BatchNorm's statistics
        // (saved gradients) is no copy.
        let mut schema = state_dict(&architecture, "ema.");
        schema.extend(state_dict(&architecture, "schema."));
        assert_eq!(root(&schema), Some("schema."));
        let mut grads = state_dict(&architecture, "model.");
        let mirror = state_dict(&architecture, "grads.").into_iter().filter(|(name, _)| !name.contains("running_"));
        grads.extend(mirror);
        assert_eq!(root(&grads), Some("model."));
        assert_eq!(left_out(&state, &architecture), Vec::<String>::new());
        // A Linear beside the network, which the model may pass its answers through, is named.
        let mut beside = state_dict(&architecture, "backbone.");
        beside.insert("classifier.weight".into(), FloatTensor { shape: vec![2, 3], values: vec![0.0; 6] });
        beside.insert("optimizer.state.0.exp_avg".into(), FloatTensor { shape: vec![1], values: vec![0.0] });
        assert_eq!(left_out(&beside, &architecture), ["classifier.weight"]);
    }

    #[test]
    fn the_ema_copy_is_read_where_asked_for() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let mut state = state_dict(&architecture, "model_ema.");
        state.extend(state_dict(&architecture, "model."));
        state.get_mut("model_ema.fc.bias").unwrap().values[0] = 5.0;
        state.insert("optimizer.state.0.exp_avg".into(), FloatTensor { shape: vec![1], values: vec![0.0] });
        let (kept, ema, others) = keep_ema(state).unwrap();
        assert_eq!((ema.as_str(), others), ("model_ema.", vec!["model.".to_string()]));
        assert_eq!(import_state_dict(&kept, None).unwrap().fc.bias[0], 5.0);
        assert!(kept.contains_key("optimizer.state.0.exp_avg") && !kept.contains_key("model.fc.bias"));
        // Within a model whose own names have no prefix: its tensors are the other copy's.
        let mut nested = state_dict(&architecture, "");
        nested.extend(state_dict(&architecture, "ema."));
        let (kept, ema, others) = keep_ema(nested).unwrap();
        assert_eq!((ema.as_str(), others), ("ema.", vec![String::new()]));
        assert_eq!(roots(&kept), ["ema."]);
        // None: a mirror without BatchNorm's statistics, or a word holding "ema", is no EMA copy.
        let mut grads = state_dict(&architecture, "model.");
        grads.extend(state_dict(&architecture, "ema.").into_iter().filter(|(name, _)| !name.contains("running_")));
        assert!(keep_ema(grads).is_none());
        assert!(keep_ema(state_dict(&architecture, "schema.")).is_none());
    }
}
