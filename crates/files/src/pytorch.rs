//! PyTorch's files as a state dict, from their bytes (the page has no file system): `.pth`/`.pt`
//! as `torch.save` writes them (a zip of a pickle and the tensors' storages; the pickle is parsed
//! by [`crate::pickle`], never run), and `.safetensors`. Floating-point tensors of any precision
//! come back as f32; integer buffers are left out.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use safetensors::{Dtype, SafeTensors};
use zip::read::{ArchiveOffset, Config};
use zip::ZipArchive;

use crate::pickle::{self, LearnerInput, PickleError, StorageType, TensorRef};
use crate::torchvision::{FloatTensor, StateDict};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Pickle(#[from] PickleError),
    #[error("not a readable PyTorch file (truncated or corrupt?): {0}")]
    Pytorch(String),
    #[error("a PyTorch file in the format before PyTorch 1.6: load it and save it again with a current torch.save")]
    Legacy,
    #[error("not a readable safetensors file (truncated or corrupt?): {0}")]
    Safetensors(String),
    #[error("tensor '{0}' could not be read: {1}")]
    Tensor(String, String),
}

/// Little-endian floats of `width` bytes each, decoded to f32.
fn floats(bytes: &[u8], width: usize, decode: fn(&[u8]) -> f32) -> Vec<f32> {
    bytes.chunks_exact(width).map(decode).collect()
}

fn f32_from(bytes: &[u8]) -> f32 {
    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn f64_from(bytes: &[u8]) -> f32 {
    f64::from_le_bytes(bytes.try_into().expect("chunks of eight")) as f32
}

fn f16_from(bytes: &[u8]) -> f32 {
    half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32()
}

fn bf16_from(bytes: &[u8]) -> f32 {
    half::bf16::from_le_bytes([bytes[0], bytes[1]]).to_f32()
}

fn decoder(dtype: StorageType) -> Option<fn(&[u8]) -> f32> {
    match dtype {
        StorageType::F32 => Some(f32_from),
        StorageType::F64 => Some(f64_from),
        StorageType::F16 => Some(f16_from),
        StorageType::BF16 => Some(bf16_from),
        StorageType::Other(_) => None,
    }
}

/// The largest pickle read: a state dict's pickle is a few hundred KB.
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// The zip that `torch.save` writes: `<root>/data.pkl` and one `<root>/data/<key>` per storage.
struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    root: String,
}

impl<'a> Archive<'a> {
    fn open(bytes: &'a [u8]) -> Result<Self, ReadError> {
        if bytes.starts_with(&[0x80]) {
            return Err(ReadError::Legacy);
        }
        // torch.save's zip starts the file. Left to guess where the zip starts, the zip crate
        // took the second directory entry for it when the first is as long as the zip64 records
        // torch writes after the directory (76 bytes: a model saved as a 21-character name).
        let config = Config { archive_offset: ArchiveOffset::Known(0) };
        let zip = ZipArchive::with_config(config, Cursor::new(bytes)).map_err(|e| ReadError::Pytorch(e.to_string()))?;
        let pickle = zip
            .file_names()
            .filter_map(Result::ok)
            .filter(|name| *name == "data.pkl" || name.ends_with("/data.pkl"))
            .min_by_key(|name| name.len())
            .ok_or_else(|| ReadError::Pytorch("a zip without data.pkl, so not from torch.save".into()))?;
        let root = pickle.strip_suffix("data.pkl").unwrap_or_default().to_string();
        Ok(Self { zip, root })
    }

    /// At most `limit` bytes of an entry: the limit, not the entry's declared size, bounds memory.
    fn entry(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
        let path = format!("{}{name}", self.root);
        let entry = self.zip.by_name(&path).map_err(|e| ReadError::Pytorch(format!("{path}: {e}")))?;
        let mut bytes = Vec::with_capacity(entry.size().min(limit) as usize);
        entry.take(limit).read_to_end(&mut bytes).map_err(|e| ReadError::Pytorch(format!("{path}: {e}")))?;
        Ok(bytes)
    }
}

/// The tensor's elements in order, gathered through its strides from the storage's bytes, taken
/// from what `elements_left` allows.
fn gather(
    name: &str,
    tensor: &TensorRef,
    storage: &[u8],
    decode: fn(&[u8]) -> f32,
    elements_left: &mut usize,
) -> Result<Vec<f32>, ReadError> {
    let width = tensor.dtype.width();
    let count = tensor.elements();
    // The elements it reaches must lie inside the storage's bytes.
    let available = storage.len() / width;
    match (count, tensor.end()) {
        (Some(0), _) => return Ok(Vec::new()),
        (Some(_), Some(end)) if end <= available.min(tensor.storage_len) => {}
        _ => {
            return Err(ReadError::Tensor(
                name.into(),
                format!(
                    "its shape {:?} reaches past its storage, which holds {available} of the {} elements declared",
                    tensor.shape, tensor.storage_len
                ),
            ));
        }
    }
    let count = count.unwrap_or(0);
    *elements_left = elements_left.checked_sub(count).ok_or_else(|| {
        let why =
            "its view repeats its storage's elements: the tensors would hold more elements than the file has bytes";
        ReadError::Tensor(name.into(), why.into())
    })?;
    // Row-major strides, which every saved parameter has: the bytes are the tensor.
    let dense: Vec<usize> =
        tensor.shape.iter().rev().scan(1, |step, d| Some(std::mem::replace(step, *step * d))).collect();
    if dense.iter().rev().eq(&tensor.strides) {
        return Ok(floats(&storage[tensor.offset * width..(tensor.offset + count) * width], width, decode));
    }
    let element = |index: usize| decode(&storage[index * width..(index + 1) * width]);
    let mut values = Vec::with_capacity(count);
    let mut position = vec![0usize; tensor.shape.len()];
    loop {
        let index = tensor.offset + position.iter().zip(&tensor.strides).map(|(p, s)| p * s).sum::<usize>();
        values.push(element(index));
        // Odometer step over the shape, last dimension fastest.
        let mut dim = tensor.shape.len();
        loop {
            if dim == 0 {
                return Ok(values);
            }
            dim -= 1;
            position[dim] += 1;
            if position[dim] < tensor.shape[dim] {
                break;
            }
            position[dim] = 0;
        }
    }
}

/// A `.pth` / `.pt` file: a bare state dict, or a checkpoint that nests one (its names then
/// keep their `state_dict.` or `module.` prefixes, which the import strips), or a whole model
/// pickled (`torch.save(model)`, fastai's `Learner.export`), its tensors named as its
/// `state_dict()` would name them. The pickle is never run; one with no tensor is refused.
pub fn read_pth(bytes: &[u8]) -> Result<Pth, ReadError> {
    let mut archive = Archive::open(bytes)?;
    let pickle = archive.entry("data.pkl", MAX_PICKLE_BYTES)?;
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut state = StateDict::new();
    // Every element read becomes an f32, and a view can repeat its storage's elements (a stride
    // of 0, or many tensors over one storage): a small file could ask for terabytes. Together
    // the tensors hold at most one element per byte of the file, which a state dict (each
    // element stored once in two bytes or more, or shared by a few tied tensors) never reaches.
    let mut elements_left = bytes.len();
    let pickled = pickle::read(&pickle)?;
    let mut tensors: Vec<_> =
        pickled.tensors.into_iter().filter_map(|(name, t)| Some((name, decoder(t.dtype)?, t))).collect();
    // A Learner's normalisation, read after the named tensors.
    let named = tensors.len();
    if let LearnerInput::Normalized { mean, std } = &pickled.learner_input {
        let normalize = [("the Learner's Normalize mean", mean), ("the Learner's Normalize std", std)];
        tensors.extend(normalize.into_iter().filter_map(|(name, t)| Some((name.into(), decoder(t.dtype)?, t.clone()))));
    }
    let mut normalizing = Vec::new();
    // Of each storage, only the bytes its tensors reach are read (never more than it declares),
    // and of all storages together, at most twice the file: torch.save stores them uncompressed,
    // but a deflated entry of zeros would inflate a small file to gigabytes.
    let mut reached: HashMap<&str, u64> = HashMap::new();
    for (_, _, tensor) in &tensors {
        let end = tensor.end().unwrap_or(usize::MAX).min(tensor.storage_len);
        let bytes = end.saturating_mul(tensor.dtype.width()) as u64;
        let reach = reached.entry(&tensor.storage).or_default();
        *reach = (*reach).max(bytes);
    }
    let mut storage_bytes_left = 2 * bytes.len() as u64;
    for (index, (name, decode, tensor)) in tensors.iter().enumerate() {
        if !storages.contains_key(&tensor.storage) {
            let limit = reached[tensor.storage.as_str()].min(storage_bytes_left);
            let entry = archive.entry(&format!("data/{}", tensor.storage), limit)?;
            storage_bytes_left -= entry.len() as u64;
            storages.insert(tensor.storage.clone(), entry);
        }
        let values = gather(name, tensor, &storages[&tensor.storage], *decode, &mut elements_left)?;
        match index < named {
            true => _ = state.insert(name.clone(), FloatTensor { shape: tensor.shape.clone(), values }),
            false => normalizing.extend(<[f32; 3]>::try_from(values)),
        }
    }
    let learner_input = match (pickled.learner_input, &normalizing[..]) {
        (LearnerInput::Normalized { .. }, &[mean, std]) => LearnerInput::Normalized { mean, std },
        (LearnerInput::Unnormalized, _) => LearnerInput::Unnormalized,
        // A mean and std of another type (integers?) say nothing we can apply.
        _ => LearnerInput::NoLearner,
    };
    Ok(Pth { state, vocab: pickled.vocab, learner_input, trained_as: pickled.trained_as })
}

/// What a `.pth` holds that xai reads.
#[derive(Debug)]
pub struct Pth {
    pub state: StateDict,
    /// The class names a whole pickled fastai Learner keeps (`Learner.export`).
    pub vocab: Option<Vec<String>>,
    /// How such a Learner normalises its input: its `Normalize` transform's mean and std.
    pub learner_input: LearnerInput<[f32; 3]>,
    /// The model a training checkpoint's arguments name (`args.model`).
    pub trained_as: Option<String>,
}

/// A `.safetensors` file holding a state dict.
pub fn read_safetensors(bytes: &[u8]) -> Result<StateDict, ReadError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| ReadError::Safetensors(e.to_string()))?;
    let mut state = StateDict::new();
    for (name, view) in file.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => StorageType::F32,
            Dtype::F64 => StorageType::F64,
            Dtype::F16 => StorageType::F16,
            Dtype::BF16 => StorageType::BF16,
            _ => continue,
        };
        let Some(decode) = decoder(dtype) else { continue };
        state.insert(
            name,
            FloatTensor { shape: view.shape().to_vec(), values: floats(view.data(), dtype.width(), decode) },
        );
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_reads_as_f32() {
        assert_eq!(floats(&[0x00, 0x3c, 0x00, 0xc0], 2, f16_from), [1.0, -2.0]);
        assert_eq!(floats(&[0x80, 0x3f], 2, bf16_from), [1.0]);
        assert_eq!(floats(&0.5f64.to_le_bytes(), 8, f64_from), [0.5]);
    }

    #[test]
    fn what_is_not_safetensors_is_refused() {
        assert!(matches!(read_safetensors(b"\x89PNG\r\n\x1a\n"), Err(ReadError::Safetensors(_))));
    }
}
