//! The network on burn tensors: the same code runs on flex (CPU), native wgpu and WebGPU.
//! It can be split at any [`Layer`] into a head (pixels to that layer's activations) and a tail
//! (activations to logits), which is what gradient-based explanations differentiate through.

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::architecture::{block_specs, stem_spec, ConvSpec, Layer, CLASSES, FEATURES};
use crate::weights::{LayerParams, NetworkParams, WeightsError, WeightsInfo};

/// A convolution with BatchNorm folded into its weight and bias.
#[derive(Debug, Clone)]
struct Conv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

impl Conv {
    fn new(spec: &ConvSpec, params: &LayerParams, device: &Device) -> Self {
        let weight = TensorData::new(params.weight.clone(), spec.weight_shape());
        Self {
            weight: Tensor::from_data(weight, device),
            bias: Tensor::from_data(TensorData::new(params.bias.clone(), [spec.out_channels]), device),
            options: ConvOptions::new([spec.stride; 2], [spec.padding; 2], [1, 1], 1),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(x, self.weight.clone(), Some(self.bias.clone()), self.options.clone())
    }
}

/// 1x1 reduce, 3x3, 1x1 expand, plus the shortcut (a 1x1 projection where the shape changes).
#[derive(Debug, Clone)]
struct Bottleneck {
    reduce: Conv,
    spatial: Conv,
    expand: Conv,
    shortcut: Option<Conv>,
}

impl Bottleneck {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let reduced = relu(self.reduce.forward(x.clone()));
        let residual = self.expand.forward(relu(self.spatial.forward(reduced)));
        let shortcut = match &self.shortcut {
            Some(projection) => projection.forward(x),
            None => x,
        };
        relu(residual + shortcut)
    }
}

/// Keras' ImageNet ResNet-50 v1, ready for inference on one device.
#[derive(Debug, Clone)]
pub struct ResNet {
    stem: Conv,
    stages: Vec<Vec<Bottleneck>>,
    /// FC weight as [FEATURES, CLASSES], so pooled features multiply it directly.
    fc_weight: Tensor<2>,
    fc_bias: Tensor<1>,
    device: Device,
}

impl ResNet {
    pub fn new(params: &NetworkParams, device: &Device) -> Self {
        let mut convs = params.convs.iter();
        let mut conv = |spec: &ConvSpec| Conv::new(spec, convs.next().expect("one params per conv"), device);
        let stem = conv(&stem_spec());
        let stages = block_specs()
            .iter()
            .map(|blocks| {
                blocks
                    .iter()
                    .map(|b| Bottleneck {
                        reduce: conv(&b.reduce),
                        spatial: conv(&b.spatial),
                        expand: conv(&b.expand),
                        shortcut: b.shortcut.as_ref().map(&mut conv),
                    })
                    .collect()
            })
            .collect();
        let fc_weight = Tensor::<2>::from_data(TensorData::new(params.fc.weight.clone(), [CLASSES, FEATURES]), device);
        Self {
            stem,
            stages,
            fc_weight: fc_weight.transpose(),
            fc_bias: Tensor::from_data(TensorData::new(params.fc.bias.clone(), [CLASSES]), device),
            device: device.clone(),
        }
    }

    /// Loads a weight file from memory onto `device`.
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<(Self, WeightsInfo), WeightsError> {
        let (params, info) = NetworkParams::from_safetensors(bytes)?;
        Ok((Self::new(&params, device), info))
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The head: preprocessed input [N, 3, S, S] to the activations of `layer`.
    pub fn features(&self, input: Tensor<4>, layer: Layer) -> Tensor<4> {
        let x = relu(self.stem.forward(input));
        // Keras pads with zeros before the pool; after a ReLU that equals ignoring the border.
        let mut pool = MaxPoolOptions::new([3, 3]);
        pool.stride = [2, 2];
        pool.padding = [(1, 1); 2];
        let x = max_pool2d(x, pool);
        self.run_stages(x, 0..=layer.stage_index())
    }

    /// The tail: activations of `layer` to logits [N, CLASSES].
    pub fn logits_from(&self, activations: Tensor<4>, layer: Layer) -> Tensor<2> {
        let last = self.run_stages(activations, layer.stage_index() + 1..self.stages.len());
        self.classify_pooled(last.mean_dims(&[2, 3]).flatten(1, 3))
    }

    /// The FC head on globally pooled layer4 features [N, FEATURES].
    pub fn classify_pooled(&self, pooled: Tensor<2>) -> Tensor<2> {
        pooled.matmul(self.fc_weight.clone()) + self.fc_bias.clone().unsqueeze()
    }

    /// FC weights as [FEATURES, CLASSES]: column c scores class c (the weights of CAM).
    pub fn fc_weight(&self) -> Tensor<2> {
        self.fc_weight.clone()
    }

    /// Logits [N, CLASSES] for a preprocessed batch [N, 3, S, S].
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.logits_from(self.features(input, Layer::Layer4), Layer::Layer4)
    }

    fn run_stages(&self, x: Tensor<4>, stages: impl Iterator<Item = usize>) -> Tensor<4> {
        stages.flat_map(|s| &self.stages[s]).fold(x, |x, block| block.forward(x))
    }
}
