//! PyTorch's files as a state dict: `.pth`/`.pt` through burn's `pytorch-reader`, which parses
//! the pickle without running it, and `.safetensors`. Floating-point tensors of any precision
//! come back as f32; integer buffers are left out.

use std::path::Path;

use pytorch_reader::{DType, PickleError, PickleValue, PytorchError, PytorchReader};
use safetensors::{Dtype, SafeTensors};

use crate::torchvision::{FloatTensor, StateDict};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "the file holds a Python object that is not a tensor or a plain container ({0}): xai-lens reads weights and never runs code from a model file"
    )]
    NotPlainData(String),
    #[error("not a readable PyTorch file (truncated or corrupt?): {0}")]
    Pytorch(String),
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

fn pytorch_error(error: PytorchError) -> ReadError {
    match error {
        PytorchError::Pickle(PickleError::UnsupportedType(name)) => ReadError::NotPlainData(name),
        other => ReadError::Pytorch(other.to_string()),
    }
}

/// The first object in the pickle that is neither plain data (numbers, strings, lists,
/// dicts) nor a torch or numpy value: a call such as `os.system` or an arbitrary class.
fn foreign_object(value: &PickleValue) -> Option<&str> {
    match value {
        PickleValue::Unsupported(name) if !name.starts_with("torch.") && !name.starts_with("numpy.") => Some(name),
        PickleValue::List(items) => items.iter().find_map(foreign_object),
        PickleValue::Dict(entries) => entries.values().find_map(foreign_object),
        _ => None,
    }
}

/// A `.pth` / `.pt` file: a bare state dict, or a checkpoint that nests one (its names then
/// keep their `state_dict.` or `module.` prefixes, which the import strips). A pickle that
/// builds anything but tensors and plain data is refused, though it would never be run.
pub fn read_pth(path: &Path) -> Result<StateDict, ReadError> {
    let objects = PytorchReader::read_pickle_data(path, None).map_err(pytorch_error)?;
    if let Some(name) = foreign_object(&objects) {
        return Err(ReadError::NotPlainData(name.to_string()));
    }
    let reader = PytorchReader::new(path).map_err(pytorch_error)?;
    let mut state = StateDict::new();
    for (name, tensor) in reader.tensors() {
        let decode: fn(&[u8]) -> f32 = match tensor.dtype() {
            DType::F32 => f32_from,
            DType::F64 => f64_from,
            DType::F16 => f16_from,
            DType::BF16 => bf16_from,
            _ => continue,
        };
        let bytes = tensor.read().map_err(|e| ReadError::Tensor(name.clone(), e.to_string()))?;
        let values = floats(&bytes, tensor.dtype().size(), decode);
        state.insert(name.clone(), FloatTensor { shape: tensor.shape().to_vec(), values });
    }
    Ok(state)
}

/// A `.safetensors` file holding a state dict.
pub fn read_safetensors(bytes: &[u8]) -> Result<StateDict, ReadError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| ReadError::Safetensors(e.to_string()))?;
    let mut state = StateDict::new();
    for (name, view) in file.tensors() {
        let (width, decode): (usize, fn(&[u8]) -> f32) = match view.dtype() {
            Dtype::F32 => (4, f32_from),
            Dtype::F64 => (8, f64_from),
            Dtype::F16 => (2, f16_from),
            Dtype::BF16 => (2, bf16_from),
            _ => continue,
        };
        state.insert(name, FloatTensor { shape: view.shape().to_vec(), values: floats(view.data(), width, decode) });
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
