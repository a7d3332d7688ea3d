//! Keras' ImageNet ResNet-50 on burn: the weight file, the network, preprocessing and labels.
//! Knows nothing of browsers or terminals; the CLI and the web app both call into it.

pub mod architecture;
pub mod keras;
pub mod labels;
pub mod preprocess;
pub mod resnet;
pub mod weights;

pub use architecture::Layer;
pub use labels::{Labels, Prediction};
pub use preprocess::{ImageError, InputSize};
pub use resnet::ResNet;
pub use weights::{NetworkParams, Precision, WeightsError, WeightsInfo};
