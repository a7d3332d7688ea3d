//! The ResNet family on burn: the network (`resnet`), over the files `xai-files` reads (weight
//! files, PyTorch and Keras imports, labels, photos), which are re-exported here. Knows nothing of
//! browsers or terminals; the CLI and the web app both call into it.

pub mod resnet;

pub use resnet::ResNet;

use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::Tensor;

/// Each class's probability from logits `[N, classes]`: their softmax, or for a head of one
/// output (a binary classifier trained with a sigmoid, whose softmax is 1 for every photo) its
/// sigmoid, as [`labels::probabilities`] on the host.
pub fn probabilities(logits: Tensor<2>) -> Tensor<2> {
    match logits.dims()[1] {
        1 => sigmoid(logits),
        _ => softmax(logits, 1),
    }
}
pub use xai_files::{
    architecture, convert, counted, keras, labels, npm, photo, preprocessing, printable, pytorch, torchvision, weights,
    Architecture, ImageError, InputSize, Labels, Layer, ModelInfo, NetworkParams, Precision, Prediction, Preprocessing,
    WeightsError, WeightsInfo,
};
