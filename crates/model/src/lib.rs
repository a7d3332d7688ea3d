//! The ResNet family on burn: the network (`resnet`), over the files `xai-files` reads (weight
//! files, PyTorch and Keras imports, labels, photos), which are re-exported here. Knows nothing of
//! browsers or terminals; the CLI and the web app both call into it.

pub mod resnet;

pub use resnet::{ResNet, CASCADE};
pub use xai_files::{
    architecture, convert, counted, keras, labels, npm, photo, preprocessing, pytorch, torchvision, weights,
    Architecture, ImageError, InputSize, Labels, Layer, ModelInfo, NetworkParams, Precision, Prediction, Preprocessing,
    WeightsError, WeightsInfo,
};
