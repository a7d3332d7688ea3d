//! The network on burn tensors, any ResNet of the family (`xai_files::architecture`): the same
//! code runs on flex (CPU), native wgpu and WebGPU.
//! It can be split at any [`Layer`] into a head (pixels to that layer's activations) and a tail
//! (activations to logits), which is what gradient-based explanations differentiate through.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions, PadMode};
use burn::tensor::{s, Device, Tensor, TensorData};

use image::RgbImage;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal, Uniform};
use xai_files::architecture::{Architecture, BlockSpec, ConvSpec, Layer, Shortcut, Tail};
use xai_files::weights::{LayerParams, NetworkParams, WeightsError, WeightsInfo};
use xai_files::Preprocessing;

use xai_conv::{Geometry, Kernel};

/// A convolution with BatchNorm folded into its weight and bias.
#[derive(Debug, Clone)]
struct Conv {
    plan: Plan,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

/// How a convolution runs. On GPUs burn's `conv2d` is the fast way. On flex (burn's CPU backend)
/// they run on the host, bias, residual and ReLU included, unless a gradient is taken through
/// them.
#[derive(Debug, Clone)]
enum Plan {
    /// OIHW, for burn's `conv2d`.
    Direct(Tensor<4>),
    /// Flex: the weight and bias for [`xai_conv::convolve`], and the weight as a burn tensor for
    /// the explanations' tails, which take gradients through burn's operations: [out, k * k * in],
    /// columns ordered (ky, kx, in), made the first time one does.
    Host { kernel: Arc<Kernel>, tracked: OnceLock<Tensor<2>> },
}

/// On trial (the `fused-bias` feature, for `bench/gpu.sh` to compare on a GPU): a GPU
/// convolution's bias added outside `conv2d`, where burn's fusion joins it to the ReLU and the
/// shortcut in one kernel. Inside `conv2d` it is a kernel of its own after each 1x1 convolution's
/// matrix product, and the ReLU another: 152 kernels a forward pass against 120, but on lavapipe
/// the fused kernels took longer than the ones they replace (docs/benchmarks.md).
const FUSED_BIAS: bool = cfg!(feature = "fused-bias");

/// flex's im2col tile: a tracked 3x3 convolution on a map of more output pixels than this runs
/// as burn's `conv2d`, on fewer as one product with its shifted copies (docs/benchmarks.md).
const FLEX_TILE_PIXELS: usize = 512;

impl Conv {
    fn new(spec: &ConvSpec, params: &LayerParams, device: &Device) -> Self {
        // The host's convolutions are plain matrix products, which grouped convolutions are not.
        let plan = match *device == Device::flex() && spec.groups == 1 {
            true => {
                let geometry = Geometry { kernel: spec.kernel, stride: spec.stride, padding: spec.padding };
                let kernel = Kernel { weight: params.weight.clone(), bias: params.bias.clone(), geometry };
                Plan::Host { kernel: kernel.into(), tracked: OnceLock::new() }
            }
            false => Plan::Direct(direct_weight(&params.weight, spec.weight_shape(), device)),
        };
        Self {
            plan,
            bias: Tensor::from_data(TensorData::new(params.bias.clone(), [spec.out_channels]), device),
            options: ConvOptions::new([spec.stride; 2], [spec.padding; 2], [1, 1], spec.groups),
        }
    }

    /// The convolution, through a ReLU if `rectify`: on the host in the same pass over each tile
    /// of the output, or as burn's operations when a gradient is taken through it.
    fn forward(&self, x: Tensor<4>, rectify: bool) -> Tensor<4> {
        match (self.host_kernel(), x.is_autodiff()) {
            (Some(kernel), false) => on_host(x, |input, shape| xai_conv::convolve(input, shape, kernel, None, rectify)),
            _ if rectify => rectified(self.burn_conv(x)),
            _ => self.burn_conv(x),
        }
    }

    /// Its weight and bias for the host, where it runs there.
    fn host_kernel(&self) -> Option<&Kernel> {
        match &self.plan {
            Plan::Host { kernel, .. } => Some(kernel),
            Plan::Direct(_) => None,
        }
    }

    /// The convolution with its bias as burn's operations, which autodiff can differentiate.
    fn burn_conv(&self, x: Tensor<4>) -> Tensor<4> {
        let bias = Some(self.bias.clone());
        let (kernel, tracked) = match &self.plan {
            Plan::Direct(weight) if FUSED_BIAS && self.bias.device() != Device::flex() => {
                let out = self.bias.dims()[0];
                let conv = conv2d(x, weight.clone(), None, self.options.clone());
                return conv + self.bias.clone().reshape([1, out, 1, 1]);
            }
            Plan::Direct(weight) => return conv2d(x, weight.clone(), bias, self.options.clone()),
            Plan::Host { kernel, tracked } => (kernel, tracked),
        };
        let [n, c, h, w] = x.dims();
        let (out, geometry) = (kernel.bias.len(), kernel.geometry);
        let k = geometry.kernel;
        let matrix = tracked.get_or_init(|| {
            let oihw = TensorData::new(kernel.weight.clone(), [out, c, k, k]);
            Tensor::<4>::from_data(oihw, &self.bias.device()).permute([0, 2, 3, 1]).reshape([out, k * k * c])
        });
        if (k, geometry.stride, geometry.padding) == (3, 1, 1) && h * w <= FLEX_TILE_PIXELS {
            let product = matrix.clone().unsqueeze::<3>().matmul(shifted_copies(x));
            return (product + self.bias.clone().reshape([1, out, 1])).reshape([n, out, h, w]);
        }
        let weight = matrix.clone().reshape([out, k, k, c]).permute([0, 3, 1, 2]);
        if (k, geometry.padding) == (1, 0) && geometry.stride > 1 {
            // flex multiplies stride-1 1x1 convolutions directly: keep every stride-th pixel first.
            let step = geometry.stride as isize;
            let x = x.slice(s![.., .., ..;step, ..;step]);
            return conv2d(x, weight, bias, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
        }
        conv2d(x, weight, bias, self.options.clone())
    }
}

/// `work` on the values of flex's `x` in plain memory, its result (values and shape) as a tensor
/// on the same device.
fn on_host(x: Tensor<4>, work: impl FnOnce(&[f32], [usize; 4]) -> (Vec<f32>, [usize; 4])) -> Tensor<4> {
    let (device, shape) = (x.device(), x.dims());
    let input = x.into_data();
    let (output, shape) = work(input.as_slice::<f32>().expect("f32 activations"), shape);
    Tensor::from_data(TensorData::new(output, shape), &device)
}

/// An OIHW weight for burn's `conv2d`, laid out as each backend reads it, which spares a copy on
/// every call: OIHW on flex, channels last (OHWI, seen as OIHW) on burn-cubecl's GPUs.
fn direct_weight(oihw: &[f32], [o, i, h, w]: [usize; 4], device: &Device) -> Tensor<4> {
    if *device == Device::flex() {
        return Tensor::from_data(TensorData::new(oihw.to_vec(), [o, i, h, w]), device);
    }
    let plane = h * w;
    let ohwi = (0..o)
        .flat_map(|out| (0..plane).flat_map(move |at| (0..i).map(move |c| oihw[(out * i + c) * plane + at])))
        .collect();
    Tensor::from_data(TensorData::new(ohwi, [o, h, w, i]), device).permute([0, 3, 1, 2])
}

/// The ReLU, as one clamp where no gradient is taken: burn's `relu` is a comparison and a masked
/// fill, two kernels and a mask on a GPU. (On flex the host's convolutions apply their own.)
fn rectified(x: Tensor<4>) -> Tensor<4> {
    match x.is_autodiff() {
        true => relu(x),
        false => x.clamp(0.0, f32::INFINITY),
    }
}

/// Each `stride` x `stride` square of `x` [N, C, H, W] averaged, H and W multiples of `stride`
/// (a stage's input is, for inputs of a multiple of 32 pixels: `InputSize`), as the mean of a
/// reshaped view: burn's `avg_pool2d` would link its own kernels and their gradients into the page
/// (17 KB gzip).
fn average_pooled(x: Tensor<4>, stride: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let (oh, ow) = (h / stride, w / stride);
    x.reshape([n, c, oh, stride, ow, stride]).mean_dim(5).mean_dim(3).reshape([n, c, oh, ow])
}

/// The zero-padded input [N, C, H, W] seen through each of the nine positions of a 3x3 kernel,
/// stacked as [N, 9 * C, H * W] in (ky, kx, c) order: a 3x3 "same" convolution is then one
/// matrix product with the weight as [out, 9 * in], columns in the same order.
fn shifted_copies(x: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    let padded = x.pad((1, 1, 1, 1), PadMode::Constant(0.0));
    let shifts = (0..3).flat_map(|ky| (0..3).map(move |kx| (ky, kx)));
    let copies = shifts.map(|(ky, kx)| padded.clone().slice(s![.., .., ky..ky + h, kx..kx + w]).reshape([n, c, h * w]));
    Tensor::cat(copies.collect(), 1)
}

/// A BatchNorm alone, then a ReLU (a pre-activation block's first, and a Wide ResNet's before its
/// head): each channel scaled and shifted, on the host on flex where no gradient is taken.
#[derive(Debug, Clone)]
struct BatchNorm {
    /// The scale as `weight`, the shift as `bias`, for the host.
    params: Arc<LayerParams>,
    scale: Tensor<4>,
    shift: Tensor<4>,
}

impl BatchNorm {
    fn new(params: &LayerParams, device: &Device) -> Self {
        let channels = params.bias.len();
        let per_channel =
            |values: &[f32]| Tensor::from_data(TensorData::new(values.to_vec(), [1, channels, 1, 1]), device);
        Self { scale: per_channel(&params.weight), shift: per_channel(&params.bias), params: params.clone().into() }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match x.device() == Device::flex() && !x.is_autodiff() {
            true => on_host(x, |input, shape| (self.on_host(input, shape), shape)),
            false => rectified(x * self.scale.clone() + self.shift.clone()),
        }
    }

    fn on_host(&self, x: &[f32], shape: [usize; 4]) -> Vec<f32> {
        xai_conv::scaled_rectified(x, shape, &self.params.weight, &self.params.bias)
    }
}

/// A layer's parameters as torchvision initialises a new ResNet's (see
/// [`ResNet::with_random_part`]): a convolution's weight from N(0, 2 / fan_out), its folded
/// BatchNorm the identity, so no bias; a BatchNorm alone the identity.
fn random_params(spec: &ConvSpec, rng: &mut StdRng) -> LayerParams {
    let bias = vec![0.0; spec.out_channels];
    if spec.is_batch_norm() {
        return LayerParams { weight: vec![1.0; spec.out_channels], bias };
    }
    let shape = spec.weight_shape();
    let normal = Normal::new(0.0, (2.0 / (shape[0] * shape[2] * shape[3]) as f32).sqrt()).expect("a positive spread");
    LayerParams { weight: normal.sample_iter(rng).take(shape.iter().product()).collect(), bias }
}

/// A residual block: its convolutions with a ReLU between them, plus the shortcut (where the
/// shape changes, a 1x1 projection, average pooling then one, or the input zero-padded), then the
/// ReLU of the sum. A
/// pre-activation block ([`BatchNorm`] first) adds its convolutions to its input as it is and
/// projects the normalised one, or the input itself where `projects_input`; its sum is its
/// output.
#[derive(Debug, Clone)]
struct Block {
    norm: Option<BatchNorm>,
    main: Vec<Conv>,
    shortcut: BlockShortcut,
    projects_input: bool,
}

#[derive(Debug, Clone)]
enum BlockShortcut {
    Identity,
    Projection(Box<Conv>),
    Pooled { stride: usize, projection: Box<Conv> },
    ZeroPadding { stride: usize, before: usize, after: usize },
}

impl Block {
    /// The block of `spec`, each layer's parameters from `params`, in [`BlockSpec::convs`]' order.
    fn new<'a>(spec: &BlockSpec, mut params: impl FnMut(&ConvSpec) -> Cow<'a, LayerParams>, device: &Device) -> Self {
        let norm = spec.norm.as_ref().map(|norm| BatchNorm::new(&params(norm), device));
        let mut conv = |spec: &ConvSpec| Conv::new(spec, &params(spec), device);
        let main = spec.main.iter().map(&mut conv).collect();
        let shortcut = match &spec.shortcut {
            Shortcut::Identity => BlockShortcut::Identity,
            Shortcut::Projection(projection) => BlockShortcut::Projection(conv(projection).into()),
            &Shortcut::Pooled { stride, ref projection } => {
                BlockShortcut::Pooled { stride, projection: conv(projection).into() }
            }
            &Shortcut::ZeroPadding { stride, before, after } => BlockShortcut::ZeroPadding { stride, before, after },
        };
        Self { norm, main, shortcut, projects_input: spec.projects_input }
    }

    fn projection(&self) -> Option<&Conv> {
        match &self.shortcut {
            BlockShortcut::Projection(conv) | BlockShortcut::Pooled { projection: conv, .. } => Some(conv),
            BlockShortcut::Identity | BlockShortcut::ZeroPadding { .. } => None,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let kernels: Option<Vec<&Kernel>> = self.main.iter().chain(self.projection()).map(Conv::host_kernel).collect();
        if let (Some(kernels), false) = (kernels, x.is_autodiff()) {
            return self.forward_on_host(x, &kernels);
        }
        let (last, first) = self.main.split_last().expect("a block has convolutions");
        let normalised = self.norm.as_ref().map_or_else(|| x.clone(), |norm| norm.forward(x.clone()));
        let inner = first.iter().fold(normalised.clone(), |y, conv| conv.forward(y, true));
        let shortcut = match &self.shortcut {
            BlockShortcut::Identity => x,
            BlockShortcut::Projection(projection) if self.projects_input => projection.forward(x, false),
            BlockShortcut::Projection(projection) => projection.forward(normalised, false),
            BlockShortcut::Pooled { stride, projection } => {
                let input = if self.projects_input { x } else { normalised };
                projection.forward(average_pooled(input, *stride), false)
            }
            &BlockShortcut::ZeroPadding { stride, before, after } => {
                let step = stride as isize;
                let kept = x.slice(s![.., .., ..;step, ..;step]);
                let [n, _, h, w] = kept.dims();
                let device = kept.device();
                let zeros = |channels: usize| Tensor::zeros([n, channels, h, w], &device);
                Tensor::cat(vec![zeros(before), kept, zeros(after)], 1)
            }
        };
        let sum = last.forward(inner, false) + shortcut;
        match self.norm {
            Some(_) => sum,
            None => rectified(sum),
        }
    }

    /// The block on the host (`kernels`: its main convolutions, then its projection if any): the
    /// activations stay in plain memory from one convolution to the next, and the shortcut and
    /// the last ReLU are added to the last convolution's tiles.
    fn forward_on_host(&self, x: Tensor<4>, kernels: &[&Kernel]) -> Tensor<4> {
        let (main, projection) = kernels.split_at(self.main.len());
        let (last, first) = main.split_last().expect("a block has convolutions");
        on_host(x, |input, shape| {
            let normalised =
                self.norm.as_ref().map_or(Cow::Borrowed(input), |norm| Cow::Owned(norm.on_host(input, shape)));
            let (inner, inner_shape) = first.iter().fold((Cow::Borrowed(&*normalised), shape), |(y, shape), kernel| {
                let (y, shape) = xai_conv::convolve(&y, shape, kernel, None, true);
                (Cow::Owned(y), shape)
            });
            let shortcut = match (projection.first(), &self.shortcut) {
                (Some(kernel), _) => {
                    let projected = if self.projects_input { input } else { &normalised };
                    let pooled = match self.shortcut {
                        BlockShortcut::Pooled { stride, .. } => {
                            Some(xai_conv::average_pooled(projected, shape, stride))
                        }
                        _ => None,
                    };
                    let (projected, shape) = pooled.as_ref().map_or((projected, shape), |(p, s)| (p.as_slice(), *s));
                    Cow::Owned(xai_conv::convolve(projected, shape, kernel, None, false).0)
                }
                (None, &BlockShortcut::ZeroPadding { stride, before, after }) => {
                    Cow::Owned(xai_conv::zero_padded(input, shape, stride, before, after).0)
                }
                (None, _) => Cow::Borrowed(input),
            };
            xai_conv::convolve(&inner, inner_shape, last, Some(&shortcut), self.norm.is_none())
        })
    }
}

/// A ResNet ready for inference on one device, with the preprocessing it was trained with.
#[derive(Debug, Clone)]
pub struct ResNet {
    architecture: Architecture,
    preprocessing: Preprocessing,
    /// The stem's convolutions, each then a ReLU (but in a pre-activation network's).
    stem: Vec<Conv>,
    stages: Vec<Vec<Block>>,
    /// The BatchNorm and ReLU after the last stage, where there is one (Wide ResNets').
    head_norm: Option<BatchNorm>,
    /// The head's Linears before the last, each weight `[inputs, outputs]` (the product's
    /// layout) and bias, a ReLU after each.
    hidden: Vec<(Tensor<2>, Tensor<1>)>,
    /// FC weight as `[classes, features]`, as the weight file stores it.
    fc_weight: Tensor<2>,
    fc_bias: Tensor<1>,
    device: Device,
}

impl ResNet {
    pub fn new(params: &NetworkParams, preprocessing: Preprocessing, device: &Device) -> Self {
        let architecture = params.architecture.clone();
        let mut convs = params.convs.iter();
        let mut next = |_: &ConvSpec| Cow::Borrowed(convs.next().expect("one params per conv"));
        let stem = architecture.stem_specs().iter().map(|spec| Conv::new(spec, &next(spec), device)).collect();
        let stages = architecture
            .block_specs()
            .iter()
            .map(|blocks| blocks.iter().map(|b| Block::new(b, &mut next, device)).collect())
            .collect();
        let head_norm = architecture.head_norm_spec().map(|spec| BatchNorm::new(&next(&spec), device));
        let linears = architecture.head.linears(architecture.features(), architecture.classes);
        let hidden = params
            .hidden
            .iter()
            .zip(&linears)
            .map(|(layer, &(outputs, inputs))| {
                let weight = Tensor::<2>::from_data(TensorData::new(layer.weight.clone(), [outputs, inputs]), device);
                (weight.transpose(), Tensor::from_data(TensorData::new(layer.bias.clone(), [outputs]), device))
            })
            .collect();
        let (classes, features) = *linears.last().expect("a head has one Linear at least");
        Self {
            architecture,
            preprocessing,
            stem,
            stages,
            head_norm,
            hidden,
            fc_weight: Tensor::from_data(TensorData::new(params.fc.weight.clone(), [classes, features]), device),
            fc_bias: Tensor::from_data(TensorData::new(params.fc.bias.clone(), [classes]), device),
            device: device.clone(),
        }
    }

    /// Loads a weight file from memory onto `device`.
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<(Self, WeightsInfo), WeightsError> {
        let (params, info) = NetworkParams::from_safetensors(bytes)?;
        Ok((Self::new(&params, info.model.preprocessing, device), info))
    }

    /// The number of classes the head scores.
    pub fn classes(&self) -> usize {
        self.architecture.classes
    }

    /// A batch of equally sized crops as the network's input `[N, 3, S, S]`, preprocessed as the
    /// model was trained.
    pub fn input(&self, crops: &[RgbImage]) -> Tensor<4> {
        let (w, h) = crops[0].dimensions();
        let planes: Vec<f32> = crops.iter().flat_map(|crop| self.preprocessing.planes(crop)).collect();
        Tensor::from_data(TensorData::new(planes, [crops.len(), 3, h as usize, w as usize]), &self.device)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// What it is: its stages, channels, stem and shortcuts.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// The last stage's output, which the head pools: where explanations look by default.
    pub fn last_layer(&self) -> Layer {
        self.architecture.last_layer()
    }

    /// What its layers lead to, which decides the methods defined at each.
    pub fn tail(&self) -> Tail {
        self.architecture.tail()
    }

    /// The head: preprocessed input [N, 3, S, S] to the activations of `layer`, one of
    /// [`Architecture::layers`].
    pub fn features(&self, input: Tensor<4>, layer: Layer) -> Tensor<4> {
        // A pre-activation network's stem has no ReLU: its blocks' BatchNorms come first.
        let rectify = !self.architecture.is_preactivation();
        let x = self.stem.iter().fold(input, |x, conv| conv.forward(x, rectify));
        let x = if self.architecture.stem.max_pool { self.stem_pool(x) } else { x };
        let x = self.run_stages(x, 0..=layer.stage_index());
        match layer == self.last_layer() {
            true => self.head_normalised(x),
            false => x,
        }
    }

    /// The last stage's output through the BatchNorm and ReLU before the head, where there is one.
    fn head_normalised(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.head_norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }

    /// The stem's 3x3 max pool of stride 2.
    fn stem_pool(&self, x: Tensor<4>) -> Tensor<4> {
        // Keras pads with zeros before the pool; after a ReLU that equals ignoring the border.
        let (kernel, stride, padding) = (3, 2, 1);
        match self.stem[0].host_kernel().is_some() && !x.is_autodiff() {
            true => on_host(x, |input, shape| xai_conv::max_pool(input, shape, Geometry { kernel, stride, padding })),
            false => {
                let mut pool = MaxPoolOptions::new([kernel; 2]);
                pool.stride = [stride; 2];
                pool.padding = [(padding, padding); 2];
                max_pool2d(x, pool)
            }
        }
    }

    /// The tail: activations of `layer` to logits `[N, classes]`.
    pub fn logits_from(&self, activations: Tensor<4>, layer: Layer) -> Tensor<2> {
        let last = match layer == self.last_layer() {
            true => activations,
            false => self.head_normalised(self.run_stages(activations, layer.stage_index() + 1..self.stages.len())),
        };
        match self.architecture.head.max_and_average {
            // fastai's `AdaptiveConcatPool2d`: the maxima first.
            true => {
                let maxima: Tensor<3> = last.clone().flatten(2, 3).max_dim(2);
                let average = last.mean_dims(&[2, 3]).flatten(1, 3);
                self.classify_pooled(Tensor::cat(vec![maxima.flatten(1, 2), average], 1))
            }
            false => self.classify_pooled(last.mean_dims(&[2, 3]).flatten(1, 3)),
        }
    }

    /// The head on the last stage's globally pooled features `[N, inputs]`.
    fn classify_pooled(&self, pooled: Tensor<2>) -> Tensor<2> {
        let features = self
            .hidden
            .iter()
            .fold(pooled, |x, (weight, bias)| relu(x.matmul(weight.clone()) + bias.clone().unsqueeze()));
        // [classes, features] x [features, N]: on flex as fast as the other way round for one
        // image, and 2.3x faster for five (DFF's concepts) or eight (docs/benchmarks.md).
        (self.fc_weight.clone().matmul(features.transpose())).transpose() + self.fc_bias.clone().unsqueeze()
    }

    /// The logits of last-stage activations the same at every position, each row of
    /// `channels` `[N, features]` one such map's channels: what DFF's concepts score. For
    /// torchvision's head, the FC layer on those channels.
    pub fn classify_uniform(&self, channels: Tensor<2>) -> Tensor<2> {
        match self.architecture.head.max_and_average {
            true => self.classify_pooled(Tensor::cat(vec![channels.clone(), channels], 1)),
            false => self.classify_pooled(channels),
        }
    }

    /// FC weights as `[classes, features]`, PyTorch's layout: row c scores class c (the weights
    /// of CAM), where the head is one Linear on average pooling (`Head::is_linear`).
    pub fn linear_head(&self) -> Option<Tensor<2>> {
        self.architecture.head.is_linear().then(|| self.fc_weight.clone())
    }

    /// Logits `[N, classes]` for a preprocessed batch [N, 3, S, S].
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let last = self.last_layer();
        self.logits_from(self.features(input, last), last)
    }

    /// Part `part` of [`Architecture::cascade`] re-initialised as torchvision initialises a new
    /// ResNet (each convolution's weight from N(0, 2 / fan_out), each BatchNorm the identity, the
    /// one before the head with the last stage; the FC layer's weight and bias from
    /// U(+-1 / sqrt(features))), drawn from `seed`. The rest keeps its learned weights. For
    /// Adebayo et al.'s model randomization test.
    pub fn with_random_part(mut self, part: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(part as u64));
        let device = self.device.clone();
        let cascade = self.architecture.cascade();
        match cascade[part] {
            "fc" => {
                let mut linears =
                    self.architecture.head.linears(self.architecture.features(), self.architecture.classes);
                let (classes, features) = linears.pop().expect("a head has one Linear at least");
                let mut linear = |outputs: usize, inputs: usize| {
                    let bound = 1.0 / (inputs as f32).sqrt();
                    let uniform = Uniform::new_inclusive(-bound, bound).expect("a positive bound");
                    let mut draw = |len: usize| uniform.sample_iter(&mut rng).take(len).collect::<Vec<f32>>();
                    // Drawn as [inputs, outputs], as before the weights were kept by class: the
                    // same seed gives the same network.
                    let drawn = draw(outputs * inputs);
                    let weight = (0..outputs * inputs).map(|i| drawn[i % inputs * outputs + i / inputs]).collect();
                    let weight = Tensor::<2>::from_data(TensorData::new(weight, [outputs, inputs]), &device);
                    (weight, Tensor::<1>::from_data(TensorData::new(draw(outputs), [outputs]), &device))
                };
                let hidden: Vec<_> = linears.into_iter().map(|(outputs, inputs)| linear(outputs, inputs)).collect();
                (self.fc_weight, self.fc_bias) = linear(classes, features);
                self.hidden = hidden.into_iter().map(|(weight, bias)| (weight.transpose(), bias)).collect();
            }
            "conv1" => {
                let specs = self.architecture.stem_specs();
                self.stem = specs.iter().map(|spec| Conv::new(spec, &random_params(spec, &mut rng), &device)).collect();
            }
            _ => {
                let stage = cascade.len() - 2 - part;
                let mut params = |spec: &ConvSpec| Cow::Owned(random_params(spec, &mut rng));
                let blocks = self.architecture.block_specs().swap_remove(stage);
                self.stages[stage] = blocks.iter().map(|b| Block::new(b, &mut params, &device)).collect();
                if stage + 1 == self.stages.len() {
                    self.head_norm =
                        self.architecture.head_norm_spec().map(|spec| BatchNorm::new(&params(&spec), &device));
                }
            }
        }
        self
    }

    fn run_stages(&self, x: Tensor<4>, stages: impl Iterator<Item = usize>) -> Tensor<4> {
        stages.flat_map(|s| &self.stages[s]).fold(x, |x, block| block.forward(x))
    }
}
