//! A model as its authors saved it, to our weight file's contents: the one path `xai convert`
//! and the page's "Use your own model" share, from the file's bytes.

use sha2::{Digest, Sha256};

use crate::labels::{Labels, LabelsError};
use crate::photo::InputSize;
use crate::preprocessing::Preprocessing;
use crate::pytorch::{self, ReadError};
use crate::torchvision::{self, ImportError};
use crate::weights::{ModelInfo, NetworkParams, FORMAT};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("the class names: {0}")]
    Labels(#[from] LabelsError),
    #[error("{given} class names for a head of {classes} classes")]
    LabelCount { given: usize, classes: usize },
    #[error("Keras' ResNet-50 uses caffe preprocessing; a mean and std do not apply")]
    CaffeNormalize,
    #[error("the std must be positive, not {0:?}")]
    Std([f32; 3]),
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
    Ok(match bytes {
        [0x1f, 0x8b, ..] => Kind::KerasTarball,
        [b'P', b'K', 3, 4, ..] | [0x80, ..] => Kind::Pytorch,
        [_, _, _, _, _, _, _, _, b'{', ..] => {
            let header = &bytes[..bytes.len().min(4096)];
            if header.windows(FORMAT.len()).any(|w| w == FORMAT.as_bytes()) {
                Kind::Converted
            } else {
                Kind::Safetensors
            }
        }
        _ => return Err(ConvertError::Unknown),
    })
}

/// A model read from its source, before it is given its class names and preprocessing.
pub struct Imported {
    pub params: NetworkParams,
    /// The class names the source brings (the Keras tarball does).
    pub labels: Option<Labels>,
    pub preprocessing: Preprocessing,
    /// The file name or package it came from.
    pub source: String,
    pub source_sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A torchvision ResNet saved by PyTorch (`.pth`/`.pt` or `.safetensors`); `arch` names the
/// variant, `None` recognises it. Its preprocessing is torchvision's ImageNet normalisation.
pub fn import_torchvision(name: &str, bytes: &[u8], arch: Option<&str>) -> Result<Imported, ConvertError> {
    let state = match sniff(bytes)? {
        Kind::Pytorch => pytorch::read_pth(bytes)?,
        Kind::Safetensors => pytorch::read_safetensors(bytes)?,
        Kind::Converted => return Err(ConvertError::AlreadyConverted),
        Kind::KerasTarball => return Err(ConvertError::Unknown),
    };
    Ok(Imported {
        params: torchvision::import_state_dict(&state, arch)?,
        labels: None,
        preprocessing: Preprocessing::IMAGENET,
        source: name.to_string(),
        source_sha256: sha256_hex(bytes),
    })
}

/// What the user says about the model beside its file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The bytes of a labels file (one name a line, or JSON).
    pub labels: Option<Vec<u8>>,
    /// Per-channel mean and std on RGB in [0, 1].
    pub normalize: Option<([f32; 3], [f32; 3])>,
    pub input_size: InputSize,
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
        input_size: overrides.input_size,
        source: imported.source.clone(),
        source_sha256: imported.source_sha256.clone(),
    })
}
