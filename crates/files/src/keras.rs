//! Import of Keras' ResNet-50 from a TF.js layers model (`model.json` + binary shards), folding
//! each BatchNorm into the conv before it: y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
//! is a conv with weight w * s and bias (b - mean) * s + beta, where s = gamma / sqrt(var + eps).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::architecture::{Architecture, ConvSpec};
use crate::weights::{LayerParams, NetworkParams};

/// Keras' BatchNormalization epsilon in ResNet50.
const BATCH_NORM_EPSILON: f32 = 1e-3;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("model.json is not a TF.js layers model: {0}")]
    Manifest(String),
    #[error("weight shard '{0}' is missing")]
    MissingShard(String),
    #[error("the shards hold {found} bytes, the manifest lists {expected}")]
    ShardSize { found: usize, expected: usize },
    #[error("tensor '{0}' is missing from the manifest: not a Keras ResNet-50")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}: not a Keras ResNet-50")]
    WrongShape { name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("BatchNorm '{0}' folds into NaN or infinite weights: is a moving_variance negative?")]
    BadBatchNorm(String),
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "weightsManifest")]
    weights_manifest: Vec<ManifestGroup>,
}

#[derive(Deserialize)]
struct ManifestGroup {
    paths: Vec<String>,
    weights: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
}

/// Named float32 tensors from the manifest, with their shapes.
struct TfjsTensors(HashMap<String, (Vec<usize>, Vec<f32>)>);

impl TfjsTensors {
    fn get(&self, name: &str, expected: &[usize]) -> Result<&[f32], ImportError> {
        let (shape, data) = self.0.get(name).ok_or_else(|| ImportError::MissingTensor(name.into()))?;
        if shape != expected {
            return Err(ImportError::WrongShape {
                name: name.into(),
                found: shape.clone(),
                expected: expected.to_vec(),
            });
        }
        Ok(data)
    }
}

/// Bytes of a float32 tensor of `shape`, unless that overflows.
fn byte_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(4usize, |bytes, &side| bytes.checked_mul(side))
}

fn manifest(model_json: &[u8]) -> Result<Vec<ManifestGroup>, ImportError> {
    let model: ModelJson = serde_json::from_slice(model_json).map_err(|e| ImportError::Manifest(e.to_string()))?;
    Ok(model.weights_manifest)
}

/// The weight shards `model.json` names, in order: the files a model directory must hold.
pub fn shard_paths(model_json: &[u8]) -> Result<Vec<String>, ImportError> {
    Ok(manifest(model_json)?.into_iter().flat_map(|group| group.paths).collect())
}

/// Reads the manifest and concatenates each group's shards: tensors lie back to back in order.
/// Each shard may be listed once: a forged manifest naming one shard over and over would
/// otherwise copy it as often.
fn read_tensors(files: &HashMap<String, Vec<u8>>) -> Result<TfjsTensors, ImportError> {
    let json = files.get("model.json").ok_or_else(|| ImportError::MissingShard("model.json".into()))?;
    let mut tensors = HashMap::new();
    let mut listed = HashSet::new();
    for group in manifest(json)? {
        let shards: Vec<&[u8]> = group
            .paths
            .iter()
            .map(|path| match files.get(path) {
                _ if !listed.insert(path.clone()) => {
                    Err(ImportError::Manifest(format!("shard '{path}' is listed twice")))
                }
                Some(shard) => Ok(shard.as_slice()),
                None => Err(ImportError::MissingShard(path.clone())),
            })
            .collect::<Result<_, _>>()?;
        // Distinct buffers in memory: their lengths add up without overflow.
        let found = shards.iter().map(|shard| shard.len()).sum();
        // Sizes come from the file: checked, so a forged manifest is an error, not an overflow.
        let overflow = || ImportError::Manifest("a tensor's size overflows".into());
        let lengths: Vec<usize> =
            group.weights.iter().map(|w| byte_len(&w.shape).ok_or_else(overflow)).collect::<Result<_, _>>()?;
        let expected = lengths.iter().try_fold(0usize, |sum, len| sum.checked_add(*len)).ok_or_else(overflow)?;
        if found != expected {
            return Err(ImportError::ShardSize { found, expected });
        }
        let bytes = shards.concat();
        let mut offset = 0;
        for (entry, len) in group.weights.into_iter().zip(lengths) {
            if entry.dtype != "float32" {
                return Err(ImportError::Manifest(format!("{} is {}, expected float32", entry.name, entry.dtype)));
            }
            let values = bytes[offset..offset + len]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            offset += len;
            tensors.insert(entry.name, (entry.shape, values));
        }
    }
    Ok(TfjsTensors(tensors))
}

/// Name of the BatchNorm layer that follows a conv in the Keras model.
fn batch_norm_name(conv: &str) -> String {
    match conv.strip_prefix("res") {
        Some(rest) => format!("bn{rest}"),
        None => format!("bn_{conv}"),
    }
}

/// One conv with its BatchNorm folded in; the Keras kernel is HWIO, ours OIHW.
fn folded_conv(tensors: &TfjsTensors, spec: &ConvSpec) -> Result<LayerParams, ImportError> {
    let [o, i, h, w] = spec.weight_shape();
    let kernel = tensors.get(&format!("{}/kernel", spec.name), &[h, w, i, o])?;
    let bias = tensors.get(&format!("{}/bias", spec.name), &[o])?;
    let bn = batch_norm_name(&spec.name);
    let [gamma, beta, mean, var] =
        ["gamma", "beta", "moving_mean", "moving_variance"].map(|p| tensors.get(&format!("{bn}/{p}"), &[o]));
    let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
    let scale: Vec<f32> = (0..o).map(|c| gamma[c] / (var[c] + BATCH_NORM_EPSILON).sqrt()).collect();
    let mut weight = vec![0f32; o * i * h * w];
    for (hwio, value) in kernel.iter().enumerate() {
        let (oc, rest) = (hwio % o, hwio / o);
        let (ic, rest) = (rest % i, rest / i);
        let (x, y) = (rest % w, rest / w);
        weight[((oc * i + ic) * h + y) * w + x] = value * scale[oc];
    }
    let bias = (0..o).map(|c| (bias[c] - mean[c]) * scale[c] + beta[c]).collect();
    let params = LayerParams { weight, bias };
    params.is_finite().then_some(params).ok_or(ImportError::BadBatchNorm(bn))
}

/// Builds the network's parameters from the files of a TF.js ResNet50 directory, by file name
/// (`model.json`, `group1-shard1of25.bin`, ...).
pub fn import_tfjs(files: &HashMap<String, Vec<u8>>) -> Result<NetworkParams, ImportError> {
    let tensors = read_tensors(files)?;
    let architecture = Architecture::keras_resnet50();
    let convs = architecture.conv_specs().iter().map(|spec| folded_conv(&tensors, spec)).collect::<Result<_, _>>()?;
    // Keras stores the dense kernel as [in, out]; we keep a row per class.
    let (fc, classes, features) = (architecture.fc_name(), architecture.classes, architecture.features());
    let kernel = tensors.get(&format!("{fc}/kernel"), &[features, classes])?;
    let weight = (0..classes * features).map(|k| kernel[(k % features) * classes + k / features]).collect();
    let bias = tensors.get(&format!("{fc}/bias"), &[classes])?.to_vec();
    Ok(NetworkParams { architecture, convs, hidden: Vec::new(), fc: LayerParams { weight, bias } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(manifest: serde_json::Value, shards: &[(&str, usize)]) -> HashMap<String, Vec<u8>> {
        let mut files: HashMap<_, _> = shards.iter().map(|(name, len)| (name.to_string(), vec![0u8; *len])).collect();
        files.insert(
            "model.json".into(),
            serde_json::to_vec(&serde_json::json!({ "weightsManifest": manifest })).unwrap(),
        );
        files
    }

    fn refusal(files: &HashMap<String, Vec<u8>>) -> String {
        import_tfjs(files).err().unwrap().to_string()
    }

    #[test]
    fn a_shard_listed_over_and_over_is_refused_before_it_is_copied() {
        // A terabyte if each listing were copied.
        let paths = vec!["a.bin"; 1_000_000];
        let weights = [serde_json::json!({"name": "w", "shape": [1_000_000, 1 << 18], "dtype": "float32"})];
        let manifest = serde_json::json!([{ "paths": paths, "weights": weights }]);
        assert!(refusal(&files(manifest, &[("a.bin", 1 << 20)])).contains("listed twice"));
        // Across groups too.
        let group =
            serde_json::json!({ "paths": ["a.bin"], "weights": [{"name": "w", "shape": [4], "dtype": "float32"}] });
        let manifest = serde_json::json!([group.clone(), group]);
        assert!(refusal(&files(manifest, &[("a.bin", 16)])).contains("listed twice"));
    }

    #[test]
    fn shards_must_hold_what_the_manifest_lists() {
        let group = |shape: serde_json::Value| serde_json::json!([{ "paths": ["a.bin", "b.bin"], "weights": [{"name": "w", "shape": shape, "dtype": "float32"}] }]);
        let shards = [("a.bin", 8), ("b.bin", 8)];
        assert!(
            refusal(&files(group(serde_json::json!([3])), &shards)).contains("hold 16 bytes, the manifest lists 12")
        );
        assert!(refusal(&files(group(serde_json::json!([usize::MAX, 2])), &shards)).contains("overflows"));
        assert!(refusal(&files(group(serde_json::json!([4])), &shards[..1])).contains("'b.bin' is missing"));
        // The sizes agree: then the tensors must be ResNet-50's.
        assert!(refusal(&files(group(serde_json::json!([4])), &shards)).contains("not a Keras ResNet-50"));
    }
}
