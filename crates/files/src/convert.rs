//! A model as its authors saved it, to our weight file's contents: the one path `xai convert`
//! and the page's "Use your own model" share, from the file's bytes.

use sha2::{Digest, Sha256};

use crate::architecture::{Architecture, Shortcuts, Stem};
use crate::labels::{Labels, LabelsError};
use crate::photo::InputSize;
use crate::pickle::LearnerInput;
use crate::preprocessing::{rounded, Preprocessing};
use crate::pytorch::{self, Pth, ReadError};
use crate::torchvision::{self, ImportError, Normalization, StateDict};
use crate::weights::{ModelInfo, NetworkParams, FORMAT};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("the class names: {0}")]
    Labels(#[from] LabelsError),
    #[error(
        "{given} class name{} for a head of {classes} class{}",
        if *given == 1 { "" } else { "s" },
        if *classes == 1 { "" } else { "es" }
    )]
    LabelCount { given: usize, classes: usize },
    #[error("Keras' ResNet-50 uses caffe preprocessing; a mean and std do not apply")]
    CaffeNormalize,
    #[error("the std must be positive, not {0:?}")]
    Std([f32; 3]),
    #[error("its config.json sets {0}, which torchvision's ResNets do not: xai reads those")]
    HuggingFace(String),
    #[error(
        "{0}: its weights look like a plain ResNet's, but the network computes what they do not show, which xai does not"
    )]
    ComputedOtherwise(String),
    #[error(
        "the file holds no EMA copy of the network (under a name such as 'state_dict_ema.' or 'model_ema.'), only {0}: convert that one"
    )]
    NoEma(String),
    #[error("this is already an xai-lens weight file: use it as it is")]
    AlreadyConverted,
    #[error(
        "not a model file xai-lens reads: expected a PyTorch .pth/.pt (torch.save), a .safetensors state dict, or the Keras ResNet-50 tarball"
    )]
    Unknown,
}

/// What a file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    KerasTarball,
    /// torch.save's zip (PyTorch 1.6 and later), or a bare pickle from older versions.
    Pytorch,
    Safetensors,
    /// A weight file `xai convert` (or the page) already made.
    Converted,
}

pub fn sniff(bytes: &[u8]) -> Result<Kind, ConvertError> {
    // Safetensors first: its header's length comes first, and can begin with any byte (0x80
    // or 0x1f too), but only a safetensors file has that header's JSON right after it.
    let header_len = bytes.get(..8).map(|len| u64::from_le_bytes(len.try_into().expect("eight bytes")));
    if let Some(len) = header_len.filter(|len| bytes.get(8) == Some(&b'{') && *len <= bytes.len() as u64 - 8) {
        let header = &bytes[8..8 + len as usize];
        let ours = header.windows(FORMAT.len()).any(|w| w == FORMAT.as_bytes());
        return Ok(if ours { Kind::Converted } else { Kind::Safetensors });
    }
    Ok(match bytes {
        [0x1f, 0x8b, ..] => Kind::KerasTarball,
        [b'P', b'K', 3, 4, ..] | [0x80, ..] => Kind::Pytorch,
        _ => return Err(ConvertError::Unknown),
    })
}

/// A model read from its source, before it is given its class names and preprocessing.
pub struct Imported {
    pub params: NetworkParams,
    /// The class names the source brings (the Keras tarball does).
    pub labels: Option<Labels>,
    pub preprocessing: Preprocessing,
    /// The photo size its source says it was trained at (a timm config.json's); `None`: its
    /// stem's recipe's.
    pub input_size: Option<InputSize>,
    /// The file name or package it came from.
    pub source: String,
    pub source_sha256: String,
    /// Read from the file's EMA copy of the network ([`Given::ema`]).
    pub ema: bool,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_of_parts([bytes])
}

/// The SHA-256 of the parts one after another, without joining them.
pub fn sha256_hex_of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("{:x}", hasher.finalize())
}

/// What the user says of a PyTorch network's shape where its weights are silent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Given<'a> {
    /// The variant; `None` recognises it.
    pub arch: Option<&'a str>,
    /// The stem's stride, and whether max pooling follows it, which the weights do not show.
    pub stem_stride: Option<usize>,
    pub max_pool: Option<bool>,
    /// Convert the checkpoint's EMA copy of the network (timm's `state_dict_ema`), not the one
    /// trained.
    pub ema: bool,
}

/// A torchvision ResNet saved by PyTorch (`.pth`/`.pt` or `.safetensors`). Its preprocessing is
/// the normalisation saved beside the network ([`torchvision::normalization`]), or in a fastai
/// Learner, or in a timm config.json given as its class names, else torchvision's ImageNet one,
/// unless `overrides` gives one (applied by [`model_info`]); its stem's stride and pooling its
/// kernel's recipe's unless the user `given` others; for a Hugging Face transformers model, the
/// settings of the config.json given as its class names are checked. With it,
/// notes for the user on what of the file the model reads beside the network, what it takes for
/// granted, and what it leaves out.
pub fn import_torchvision(
    name: &str,
    bytes: &[u8],
    given: &Given,
    overrides: &Overrides,
) -> Result<(Imported, Vec<String>), ConvertError> {
    let Pth { state, vocab, learner_input, trained_as } = torchvision_state_dict(bytes)?;
    refuse_computed_otherwise(trained_as.as_deref(), overrides.labels.as_deref())?;
    let (state, hugging_face) = torchvision::from_hugging_face(state);
    let state = torchvision::from_children(state)?;
    let mut notes = Vec::new();
    let state = chosen_copy(state, given.ema, &mut notes)?;
    let mut params = torchvision::import_state_dict(&state, given.arch)?;
    if hugging_face {
        match overrides.labels.as_deref().and_then(hugging_face_settings) {
            Some(unlike) if !unlike.is_empty() => return Err(ConvertError::HuggingFace(unlike.join(", "))),
            Some(_) => {}
            None => notes.push(
                "a Hugging Face transformers ResNet, read as torchvision's without its config.json: give that as the class names, for their names and to check its settings".into(),
            ),
        }
    }
    // A 3x3 stem is the CIFAR recipe's guessed from its kernel, except in He et al.'s CIFAR
    // ResNets, whose recipe it is.
    let guessed = params.architecture.recipe().stem != Stem::CIFAR;
    if params.architecture.shortcuts == Shortcuts::ZeroPadding {
        notes.push("no projection weights where a stage begins: its shortcuts read as zero-padding (He et al.'s option A, as pytorch_resnet_cifar10 builds them: every second pixel, zero channels added evenly on both sides)".into());
    }
    let stem = &mut params.architecture.stem;
    let recipe = *stem;
    stem.stride = given.stem_stride.unwrap_or(stem.stride);
    stem.max_pool = given.max_pool.unwrap_or(stem.max_pool);
    if *stem != recipe {
        notes.push(format!("the stem as given: {stem}"));
    } else if recipe == Stem::CIFAR && guessed && given.stem_stride.is_none() && given.max_pool.is_none() {
        notes.push(format!(
            "the stem read as the CIFAR recipe's: a {stem} (if the model was trained otherwise, give its stem's stride and max pooling: --stem-stride and --max-pool, or the page's conversion options)"
        ));
    }
    let timm = overrides.labels.as_deref().map(TimmInput::of).unwrap_or_default();
    let normalization = match overrides.normalize {
        None => {
            torchvision::normalization(&state)?.or_else(|| learner_normalization(learner_input)).or(timm.normalization)
        }
        Some(_) => {
            if let Ok(Some(saved)) = torchvision::normalization(&state) {
                notes.push(format!("the mean and std given replace the normalisation saved in '{}'", saved.module));
            }
            None
        }
    };
    if let Some(n) = &normalization {
        let scaled = if n.scaled { ", saved for pixels in [0, 255]" } else { "" };
        notes.push(format!(
            "the model's normalisation read from '{}': mean {}, std {} on pixels in [0, 1]{scaled}",
            n.module,
            rounded(n.mean),
            rounded(n.std)
        ));
    }
    // The CIFAR recipe's models are as often trained on CIFAR's own statistics as on ImageNet's.
    if normalization.is_none() && overrides.normalize.is_none() && params.architecture.stem == Stem::CIFAR {
        notes.push("the photos normalised with ImageNet's statistics, as nothing in the file says otherwise: if it was trained with CIFAR-10's (mean 0.4914, 0.4822, 0.4465, std 0.2470, 0.2435, 0.2616, or 0.2023, 0.1994, 0.2010), give those as its mean and std (--mean and --std, or the page's conversion options)".into());
    }
    if let Ok(Some(head)) = torchvision::head_beside(&state) {
        notes.push(format!("the head read from '{head}', the one Linear beside the network"));
    }
    let head = &params.architecture.head;
    if !head.is_linear() {
        notes.push(format!(
            "the layers after the network read as fastai's `vision_learner` head, {head}: a ReLU after each hidden Linear, the BatchNorms folded into the Linears after them, the Dropouts idle; CAM, which reads a head of one Linear on average pooling, is not defined for it"
        ));
    }
    notes.extend(left_out_notes(&state, &params.architecture));
    let preprocessing =
        normalization.map_or(Preprocessing::IMAGENET, |n| Preprocessing::Normalize { mean: n.mean, std: n.std });
    // A vocabulary of another length (of a text model's tokens?) names no class of this head.
    let classes = params.architecture.classes;
    let labels = vocab
        .filter(|names| names.len() == classes)
        .and_then(|names| Labels::from_json(serde_json::to_string(&names).expect("strings serialise").as_bytes()).ok());
    match (&labels, &overrides.labels) {
        (Some(_), None) => notes.push("the class names read from the file's `vocab` (a fastai Learner's)".into()),
        // fastai's `learn.save` keeps the weights alone.
        (None, None) if !head.is_linear() => notes.push("no class names in the file: give fastai's `learn.dls.vocab`, one a line, as the class names (--labels, or the page's class names file), or convert `learn.export()`'s file, which keeps them".into()),
        _ => {}
    }
    let input_size = timm.size.filter(|_| overrides.input_size.is_none());
    if let Some(size) = input_size.filter(|size| *size != params.architecture.stem.input_size()) {
        notes.push(format!("the input size read from its config.json's pretrained_cfg: {} px", size.get()));
    }
    let source = name.to_string();
    let source_sha256 = sha256_hex(bytes);
    let imported = Imported { params, labels, preprocessing, input_size, source, source_sha256, ema: given.ema };
    Ok((imported, notes))
}

/// What a Hugging Face ResNet's config.json sets that torchvision's ResNets do not compute (and
/// its weights do not show); `None` where the bytes are no such config.
fn hugging_face_settings(bytes: &[u8]) -> Option<Vec<String>> {
    let config: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if config.get("model_type")? != "resnet" {
        return None;
    }
    let mut unlike = Vec::new();
    if let Some(activation) = config.get("hidden_act").filter(|a| *a != "relu") {
        unlike.push(format!("hidden_act {activation}"));
    }
    for key in ["downsample_in_bottleneck", "downsample_in_first_stage"] {
        if config.get(key) == Some(&serde_json::Value::Bool(true)) {
            unlike.push(format!("{key} true"));
        }
    }
    if let Some(size) = config.get("embedding_size").filter(|s| *s != 64) {
        unlike.push(format!("embedding_size {size}"));
    }
    Some(unlike)
}

/// The state dict with the copy of the network to convert: the one trained, or its EMA copy
/// where `ema` asks for it (said in `notes`; a file without one is refused).
fn chosen_copy(state: StateDict, ema: bool, notes: &mut Vec<String>) -> Result<StateDict, ConvertError> {
    if !ema {
        return Ok(state);
    }
    // A file with no ResNet is said to be one by the import.
    let Some(trained) = torchvision::root(&state).map(shown) else { return Ok(state) };
    let (state, ema, others) = torchvision::keep_ema(state).ok_or(ConvertError::NoEma(trained))?;
    let others = match others.as_slice() {
        [] => String::new(),
        others => format!(", not {}", others.iter().map(|o| shown(o)).collect::<Vec<_>>().join(", ")),
    };
    notes.push(format!("converted the file's EMA copy of the network, {}{others}", shown(&ema)));
    Ok(state)
}

/// A network its training arguments (`args.model`) or its timm config.json (given as the class
/// names) name as computing what its weights do not show, refused.
fn refuse_computed_otherwise(trained_as: Option<&str>, config: Option<&[u8]>) -> Result<(), ConvertError> {
    let named = trained_as
        .and_then(|name| Some(format!("its training arguments name timm's {name}, {}", downsampled_otherwise(name)?)));
    let unlike: Vec<String> = named.into_iter().chain(config.map(timm_settings).unwrap_or_default()).collect();
    match unlike.is_empty() {
        true => Ok(()),
        false => Err(ConvertError::ComputedOtherwise(unlike.join("; "))),
    }
}

/// How a timm ResNet of this name downsamples otherwise than by its convolutions' stride, with
/// no weights to show it: `resnetaa*` and `resnetblur*`, which share plain ones' names.
fn downsampled_otherwise(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    if name.starts_with("resnetaa") {
        Some("anti-aliased (each stride taken by average pooling after its convolution)")
    } else if name.starts_with("resnetblur") {
        Some("blur-pooled (each stride taken by a blur filter after its convolution)")
    } else {
        None
    }
}

/// What a timm model's config.json (given as its class names) says its network computes that
/// its weights do not show: another downsampling, by its name or its `aa_layer`, or another
/// activation, by its `act_layer`.
fn timm_settings(bytes: &[u8]) -> Vec<String> {
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Vec::new() };
    let mut unlike = Vec::new();
    if let Some(name) = config.get("architecture").and_then(serde_json::Value::as_str) {
        unlike.extend(downsampled_otherwise(name).map(|how| format!("its config.json names timm's {name}, {how}")));
    }
    let model_args = config.get("model_args");
    let set = |key: &str| model_args.and_then(|args| args.get(key)).filter(|value| !value.is_null());
    if let Some(activation) = set("act_layer").filter(|activation| *activation != "relu") {
        unlike.push(format!("its config.json's model_args set act_layer {activation}"));
    }
    if let Some(pooling) = set("aa_layer") {
        unlike.push(format!("its config.json's model_args set aa_layer {pooling}"));
    }
    unlike
}

/// What of a state dict the converted model leaves out: tensors beside the network (a second
/// head), another copy of the network (an EMA one).
fn left_out_notes(state: &StateDict, architecture: &Architecture) -> Vec<String> {
    let mut notes = Vec::new();
    let left_out = torchvision::left_out(state, architecture);
    if let Some(first) = left_out.first() {
        notes.push(format!(
            "{} of the file no ResNet layer reads left out, such as '{first}': if the model uses them, its answers here differ",
            crate::counted(left_out.len(), "tensor", "tensors")
        ));
    }
    let copies = torchvision::roots(state);
    if let (Some(kept), true) = (torchvision::root(state), copies.len() > 1) {
        let others: Vec<&str> = copies.iter().copied().filter(|c| *c != kept).collect();
        let ema = match others.iter().any(|c| torchvision::is_ema(c)) {
            true => " (its EMA copy instead: --ema, or the page's conversion options)",
            false => "",
        };
        notes.push(format!(
            "the file holds the network {} times (an EMA or attacker's copy?): converted {}, not {}{ema}",
            copies.len(),
            shown(kept),
            others.iter().map(|c| shown(c)).collect::<Vec<_>>().join(", ")
        ));
    }
    notes
}

/// A copy of the network in a file, by its prefix.
fn shown(prefix: &str) -> String {
    match prefix {
        "" => "the one at the top level".to_string(),
        prefix => format!("'{prefix}'"),
    }
}

/// A fastai Learner's normalisation as the model's (on fastai's pixels in [0, 1]; none is a
/// mean of 0 and a std of 1), where its std is positive.
fn learner_normalization(input: LearnerInput<[f32; 3]>) -> Option<Normalization> {
    let (module, mean, std) = match input {
        LearnerInput::Normalized { mean, std } => ("its fastai Normalize transform", mean, std),
        LearnerInput::Unnormalized => ("its fastai transforms, none of them a Normalize", [0.0; 3], [1.0; 3]),
        LearnerInput::NoLearner => return None,
    };
    checked_normalization(module, mean, std)
}

/// What a timm model's config.json (given as its class names: `push_to_hf_hub` uploads it beside
/// the weights) says of the input it was trained on, in its `pretrained_cfg`.
#[derive(Debug, Default)]
struct TimmInput {
    normalization: Option<Normalization>,
    /// Its `input_size`, `[3, S, S]`, where S is a size the network takes.
    size: Option<InputSize>,
}

impl TimmInput {
    /// Nothing where the bytes are no such config.
    fn of(config: &[u8]) -> TimmInput {
        let config: Option<serde_json::Value> = serde_json::from_slice(config).ok();
        let Some(pretrained) = config.as_ref().and_then(|config| config.get("pretrained_cfg")) else {
            return TimmInput::default();
        };
        let numbers = |key: &str| -> Option<Vec<f64>> {
            pretrained.get(key)?.as_array()?.iter().map(serde_json::Value::as_f64).collect()
        };
        let three = |key: &str| -> Option<[f32; 3]> {
            numbers(key)?.iter().map(|v| *v as f32).collect::<Vec<_>>().try_into().ok()
        };
        let normalization = three("mean")
            .zip(three("std"))
            .and_then(|(mean, std)| checked_normalization("its config.json's pretrained_cfg", mean, std));
        let size = match numbers("input_size").as_deref() {
            Some(&[3.0, height, width]) if height == width && height.fract() == 0.0 && height <= u32::MAX as f64 => {
                InputSize::new(height as u32).ok()
            }
            _ => None,
        };
        TimmInput { normalization, size }
    }
}

/// A normalisation read from `module`, where its values are finite and its std positive.
fn checked_normalization(module: &str, mean: [f32; 3], std: [f32; 3]) -> Option<Normalization> {
    let valid = std.iter().all(|s| s.is_finite() && *s > 0.0) && mean.iter().all(|m| m.is_finite());
    valid.then(|| Normalization { module: module.into(), mean, std, scaled: false })
}

/// What a file PyTorch saved (`.pth`/`.pt` or `.safetensors`) holds: a state dict, and with a
/// pickled fastai Learner its class names and how it normalises its input.
fn torchvision_state_dict(bytes: &[u8]) -> Result<Pth, ConvertError> {
    Ok(match sniff(bytes)? {
        Kind::Pytorch => pytorch::read_pth(bytes)?,
        Kind::Safetensors => {
            let state = pytorch::read_safetensors(bytes)?;
            Pth { state, vocab: None, learner_input: LearnerInput::NoLearner, trained_as: None }
        }
        Kind::Converted => return Err(ConvertError::AlreadyConverted),
        Kind::KerasTarball => return Err(ConvertError::Unknown),
    })
}

/// What the user says about the model beside its file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The bytes of a labels file (one name a line, or JSON).
    pub labels: Option<Vec<u8>>,
    /// Per-channel mean and std on RGB in [0, 1].
    pub normalize: Option<([f32; 3], [f32; 3])>,
    /// Default: the one its source says, else its stem's recipe trains at ([`Stem::input_size`]).
    pub input_size: Option<InputSize>,
}

/// The model's class names (its own, the user's, or `class 0`..), preprocessing and origin,
/// checked against its head.
pub fn model_info(imported: &Imported, overrides: &Overrides) -> Result<ModelInfo, ConvertError> {
    let classes = imported.params.architecture.classes;
    let labels = match &overrides.labels {
        Some(bytes) => Labels::from_file_bytes(bytes)?,
        None => imported.labels.clone().unwrap_or_else(|| Labels::numbered(classes)),
    };
    if labels.len() != classes {
        return Err(ConvertError::LabelCount { given: labels.len(), classes });
    }
    let preprocessing = match (overrides.normalize, imported.preprocessing) {
        (Some(_), Preprocessing::Caffe) => return Err(ConvertError::CaffeNormalize),
        (Some((_, std)), _) if std.iter().any(|s| *s <= 0.0) => return Err(ConvertError::Std(std)),
        (Some((mean, std)), _) => Preprocessing::Normalize { mean, std },
        (None, preprocessing) => preprocessing,
    };
    Ok(ModelInfo {
        labels,
        preprocessing,
        input_size: overrides
            .input_size
            .or(imported.input_size)
            .unwrap_or(imported.params.architecture.stem.input_size()),
        source: imported.source.clone(),
        source_sha256: imported.source_sha256.clone(),
        ema: imported.ema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A torch.save zip of the pickle `body` over one storage `0` of three floats.
    fn torch_saved(body: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("archive/data.pkl", stored).unwrap();
        zip.write_all(&crate::pickle::tests::pickle(body)).unwrap();
        zip.start_file("archive/data/0", stored).unwrap();
        zip.write_all(&[0; 12]).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_resnet_that_downsamples_otherwise_than_its_weights_show_is_refused_by_name() {
        // {'state_dict': {'fc.bias': tensor}, 'args': argparse.Namespace(model=...)}, as timm's
        // train.py saves its arguments beside the weights.
        let checkpoint = |model: &str| {
            let mut body = b"}(X\x0a\x00\x00\x00state_dict}X\x07\x00\x00\x00fc.bias".to_vec();
            body.extend(crate::pickle::tests::tensor_of("0", 3));
            body.extend(b"sX\x04\x00\x00\x00argscargparse\nNamespace\n)\x81}X\x05\x00\x00\x00model");
            body.extend([b'X', model.len() as u8, 0, 0, 0]);
            body.extend(model.as_bytes());
            body.extend(b"sbu");
            torch_saved(&body)
        };
        let import = |bytes: &[u8], labels: Option<&str>| {
            let overrides = Overrides { labels: labels.map(|l| l.as_bytes().to_vec()), ..Overrides::default() };
            import_torchvision("checkpoint.pth.tar", bytes, &Given::default(), &overrides).err().unwrap().to_string()
        };
        let refused = import(&checkpoint("resnetaa50d"), None);
        assert!(refused.starts_with("its training arguments name timm's resnetaa50d, anti-aliased"), "{refused}");
        assert!(refused.ends_with("which xai does not"), "{refused}");
        // A name of a plain one goes on to the import (which finds no ResNet in this file).
        assert!(import(&checkpoint("resnet50d"), None).starts_with("not a torchvision ResNet"));
        // The hub's config.json: its name, or the settings of its model_args.
        let plain = checkpoint("resnet50d");
        let config = r#"{"architecture": "resnetblur50", "model_args": {"act_layer": "silu", "aa_layer": null}}"#;
        assert_eq!(
            import(&plain, Some(config)),
            "its config.json names timm's resnetblur50, blur-pooled (each stride taken by a blur filter after its convolution); its config.json's model_args set act_layer \"silu\": its weights look like a plain ResNet's, but the network computes what they do not show, which xai does not"
        );
        let relu = r#"{"architecture": "resnet50d", "model_args": {"act_layer": "relu"}}"#;
        assert!(import(&plain, Some(relu)).starts_with("not a torchvision ResNet"));
    }

    /// A safetensors file whose header is `json` padded with spaces to `len` bytes.
    fn safetensors_of(json: &str, len: usize) -> Vec<u8> {
        let mut bytes = (len as u64).to_le_bytes().to_vec();
        bytes.extend(format!("{json:len$}").as_bytes());
        bytes
    }

    #[test]
    fn what_a_conversion_leaves_out_is_noted() {
        let architecture = Architecture::named("resnet18", 3).unwrap();
        let mut state = torchvision::tests::state_dict(&architecture, "model.");
        assert_eq!(left_out_notes(&state, &architecture), Vec::<String>::new());
        state.extend(torchvision::tests::state_dict(&architecture, "model_ema."));
        state.insert("model.aux.weight".into(), state["model.fc.bias"].clone());
        assert_eq!(
            left_out_notes(&state, &architecture),
            [
                "1 tensor of the file no ResNet layer reads left out, such as 'aux.weight': if the model uses them, its answers here differ",
                "the file holds the network 2 times (an EMA or attacker's copy?): converted 'model.', not 'model_ema.' (its EMA copy instead: --ema, or the page's conversion options)"
            ]
        );
    }

    #[test]
    fn a_timm_config_says_how_its_input_was_normalised_and_sized() {
        let config = |size: &str| {
            format!(
                r#"{{"architecture": "resnet50d", "pretrained_cfg": {{"input_size": {size}, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}}}"#
            )
        };
        let timm = TimmInput::of(config("[3, 288, 288]").as_bytes());
        let normalization = timm.normalization.unwrap();
        assert_eq!((normalization.mean, normalization.std, timm.size), ([0.5; 3], [0.25; 3], InputSize::new(288).ok()));
        // A size the network does not take, or not square, is none; so is any other file.
        for size in ["[3, 299, 299]", "[3, 256, 320]", "[1, 224, 224]", "224"] {
            assert!(TimmInput::of(config(size).as_bytes()).size.is_none(), "{size}");
        }
        assert!(TimmInput::of(b"cat\ndog\n").normalization.is_none());
    }

    #[test]
    fn a_file_is_told_by_its_first_bytes() {
        // Header lengths of 0x180 and 0x8b1f begin like a pickle and a gzip stream.
        let ours = format!(r#"{{"__metadata__":{{"format":"{FORMAT}"}}}}"#);
        assert_eq!(sniff(&safetensors_of(&ours, 0x180)).unwrap(), Kind::Converted);
        assert_eq!(sniff(&safetensors_of("{}", 0x8b1f)).unwrap(), Kind::Safetensors);
        assert_eq!(sniff(&[0x80, 2, 0x8a, 10]).unwrap(), Kind::Pytorch);
        assert_eq!(sniff(b"PK\x03\x04rest").unwrap(), Kind::Pytorch);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]).unwrap(), Kind::KerasTarball);
        // A length past the file's end is no safetensors header: the first byte decides.
        let mut cut = safetensors_of("{}", 0x180);
        cut.truncate(100);
        assert_eq!(sniff(&cut).unwrap(), Kind::Pytorch);
        assert!(sniff(b"").is_err());
    }
}
