//! The files users bring, read and checked without burn (so fuzzing them builds quickly): our
//! weight file, the PyTorch and Keras files it is converted from (Keras' in their npm tarball),
//! class names, and photos. The ResNet family is described here as data; `xai-model` runs it.

pub mod architecture;
pub mod convert;
pub mod keras;
pub mod labels;
pub mod npm;
pub mod photo;
pub mod pickle;
pub mod preprocessing;
pub mod pytorch;
pub mod torchvision;
pub mod weights;

pub use architecture::{Architecture, Layer};
pub use labels::{Labels, Prediction};
pub use photo::{ImageError, InputSize};
pub use preprocessing::Preprocessing;
pub use weights::{ModelInfo, NetworkParams, Precision, WeightsError, WeightsInfo};

/// A count and its noun, singular for one: "1 photo", "7 photos".
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
