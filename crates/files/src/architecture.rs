//! The ResNet family as data: He et al., "Deep Residual Learning for Image Recognition" (CVPR
//! 2016), Table 1, with the wide (Zagoruyko & Komodakis 2016) and ResNeXt (Xie et al. 2017)
//! variants as torchvision builds them, Keras' ResNet-50, the paper's three-stage CIFAR
//! ResNets (section 4.2: ResNet-20 to -1202) and their deeper kin of bottlenecks (ResNet-164 and
//! -1001), and pre-activation ResNets (He et al., "Identity Mappings in Deep Residual Networks",
//! ECCV 2016) as the CIFAR codes build them: kuangliu's PreActResNets, the Wide ResNets of
//! RobustBench and bearpaw's PreResNets. BatchNorm is folded into each
//! convolution when a model is converted, so every conv here has a bias; a BatchNorm with no
//! convolution right before it (a pre-activation block's first) is the depthwise 1x1
//! convolution it is at inference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::photo::InputSize;

/// A residual block: two 3x3 convolutions, or 1x1 reduce, 3x3 (grouped), 1x1 expand by 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Basic,
    Bottleneck,
}

/// Where a model puts the stride of a downsampling block and how it names its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Keras' ResNet-50: stride on the first 1x1 conv, names like `res3a_branch2a`, `fc1000`.
    Keras,
    /// torchvision (ResNet v1.5): stride on the 3x3 conv, names like `layer2.0.conv1`, `fc`.
    Torchvision,
}

/// How a block's shortcut changes the shape where its main path does (a stage's first block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shortcuts {
    /// A 1x1 convolution of the block's stride (He et al.'s option B, torchvision's `downsample`).
    Projection,
    /// Every stride-th pixel, its channels padded with zeros evenly on both sides: no weights
    /// (option A, the paper's for CIFAR, as akamaster's pytorch_resnet_cifar10 builds it).
    ZeroPadding,
    /// A stride x stride average pooling, then a 1x1 convolution of stride 1: ResNet-D's (He et
    /// al., "Bag of Tricks for Image Classification", CVPR 2019; timm's `avg_down`, fastai's
    /// xresnet), which reads every pixel where a strided 1x1 convolution skips three in four.
    AveragePooled,
}

impl fmt::Display for Shortcuts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shortcuts::Projection => "projection shortcuts",
            Shortcuts::ZeroPadding => "zero-padding shortcuts",
            Shortcuts::AveragePooled => "average-pooled shortcuts",
        })
    }
}

/// The convolution before the stages, and the max pooling after it where there is one. The
/// weights show its kernel, not its stride nor whether it pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stem {
    pub kernel: usize,
    pub stride: usize,
    pub max_pool: bool,
    /// A deep stem's (ResNet-C and -D's, "Bag of Tricks", CVPR 2019: timm's `resnet50d`,
    /// fastai's xresnet): two 3x3 convolutions of these widths before the stem's own 3x3, each
    /// with its BatchNorm and ReLU, the first with the stem's stride.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep: Option<[usize; 2]>,
}

impl Stem {
    /// ImageNet's (torchvision's and Keras'): 7x7, stride 2, then a 3x3 max pool of stride 2.
    pub const IMAGENET: Stem = Stem { kernel: 7, stride: 2, max_pool: true, deep: None };
    /// The CIFAR recipe for 32 px photos: `conv1 = Conv2d(3, 64, 3, 1, 1)`, `maxpool = Identity`.
    pub const CIFAR: Stem = Stem { kernel: 3, stride: 1, max_pool: false, deep: None };
    /// The widest a deep stem's inner convolutions are here (timm's are 32 or 64 wide).
    pub const DEEPEST_WIDTH: usize = 1024;

    /// Whether a deep stem's convolution can be `width` wide here.
    pub fn is_valid_width(width: usize) -> bool {
        (1..=Self::DEEPEST_WIDTH).contains(&width)
    }

    /// A deep stem of inner convolutions `widths` wide, ImageNet's stride and max pooling.
    pub fn deep(widths: [usize; 2]) -> Stem {
        Stem { kernel: 3, deep: Some(widths), ..Stem::IMAGENET }
    }

    /// The stem a kernel of this size is, as its recipe has it: ImageNet's for 7x7, CIFAR's for
    /// 3x3; `None` for any other (or for a kernel of even size, which pads unevenly).
    pub fn of_kernel(kernel: usize) -> Option<Stem> {
        match kernel {
            7 => Some(Stem::IMAGENET),
            3 => Some(Stem::CIFAR),
            _ => None,
        }
    }

    /// Whether a weight file's stem is one the network can run: an odd kernel up to 7, stride 1
    /// or 2; a deep one of 3x3 kernels and inner widths from 1 to [`Stem::DEEPEST_WIDTH`].
    pub fn is_valid(&self) -> bool {
        let deep = self.deep.is_none_or(|widths| self.kernel == 3 && widths.into_iter().all(Self::is_valid_width));
        self.kernel % 2 == 1 && self.kernel <= 7 && (1..=2).contains(&self.stride) && deep
    }

    /// The photo size its kernel's recipe trains at: 32 after a 3x3 stem (CIFAR's, whatever its
    /// stride and pooling), 224 after any other (a deep stem's too).
    pub fn input_size(&self) -> InputSize {
        if self.kernel == 3 && self.deep.is_none() {
            InputSize::CIFAR
        } else {
            InputSize::STANDARD
        }
    }
}

/// Where a network's BatchNorms and ReLUs sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// After each convolution, and a ReLU after each block's sum (He et al. 2015; torchvision's).
    PostActivation,
    /// Before each convolution (He et al. 2016): a block's input goes through BatchNorm and ReLU
    /// into its convolutions and its projection, its sum is its output as it is, and the stem has
    /// neither. `head_norm`: a BatchNorm and ReLU after the last stage, before the pooling (the
    /// Wide ResNets'), which the last layer's activations are then taken after. `projects_input`:
    /// a projection reads the block's input as it came (bearpaw's pytorch-classification), not
    /// pre-activated (kuangliu's pytorch-cifar, RobustBench's Wide ResNets).
    PreActivation { head_norm: bool, projects_input: bool },
}

impl fmt::Display for Stem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pool = if self.max_pool { "then max pooling" } else { "no max pooling" };
        match self.deep {
            Some([first, second]) => write!(
                f,
                "deep stem of three 3x3 convolutions, {first} and {second} wide before the last, of stride {}, {pool}",
                self.stride
            ),
            None => write!(f, "{k}x{k} stem of stride {}, {pool}", self.stride, k = self.kernel),
        }
    }
}

/// One network of the family, with its head's number of classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Architecture {
    /// The name in weight files and on the command line (`resnet50`, `resnet50-keras-v1`).
    pub name: &'static str,
    pub block: Block,
    /// Blocks in each of the four stages; the CIFAR ResNets have three (none in the fourth).
    pub blocks: [usize; 4],
    /// Channels of the first stage (64; 16 in the CIFAR ResNets, 16 times the widening in the
    /// Wide ResNets), doubled at each stage after it.
    pub base_width: usize,
    /// Channels of the stem: the first stage's, but 16 in the Wide ResNets.
    pub stem_width: usize,
    /// Groups of the 3x3 convs (ResNeXt's cardinality) and channels per group at stage 1.
    pub groups: usize,
    pub width_per_group: usize,
    pub layout: Layout,
    pub stem: Stem,
    pub shortcuts: Shortcuts,
    pub order: Order,
    /// What reads the last stage: torchvision's average pooling and one Linear, or more.
    pub head: Head,
    pub classes: usize,
}

/// The layers after the last stage: its pooling, then Linears with a ReLU between each two, the
/// last scoring the classes. fastai's `vision_learner` head (max and average pooling side by
/// side, BatchNorm1d, Linear to 512, ReLU, BatchNorm1d, Linear) is one, its BatchNorms folded
/// into the Linears after them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Head {
    /// Each channel's maximum and its average side by side (fastai's `AdaptiveConcatPool2d`),
    /// not its average alone.
    pub max_and_average: bool,
    /// The outputs of each Linear before the last (fastai's 512).
    pub hidden: Vec<usize>,
}

impl Head {
    /// torchvision's: average pooling and one Linear.
    pub const LINEAR: Head = Head { max_and_average: false, hidden: Vec::new() };

    /// Whether it is torchvision's, whose weights are CAM's and give the gradient in closed form.
    pub fn is_linear(&self) -> bool {
        *self == Head::LINEAR
    }

    /// The pooled features' width for a last stage of `channels`.
    pub fn inputs(&self, channels: usize) -> usize {
        if self.max_and_average {
            2 * channels
        } else {
            channels
        }
    }

    /// Each Linear's (outputs, inputs), the last scoring `classes`, after a last stage of
    /// `channels`.
    pub fn linears(&self, channels: usize, classes: usize) -> Vec<(usize, usize)> {
        let outputs = self.hidden.iter().copied().chain([classes]);
        let inputs = std::iter::once(self.inputs(channels)).chain(self.hidden.iter().copied());
        outputs.zip(inputs).collect()
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pooling = if self.max_and_average { "max and average pooling" } else { "average pooling" };
        let widths: Vec<String> = self.hidden.iter().map(usize::to_string).collect();
        match widths[..] {
            [] => write!(f, "a head of {pooling}"),
            [ref width] => write!(f, "a head of {pooling} and a hidden Linear of {width}"),
            _ => write!(f, "a head of {pooling} and hidden Linears of {}", widths.join(", ")),
        }
    }
}

/// Its name, with its stem, shortcuts and BatchNorm before the head where they are not its
/// recipe's: `resnet18 (3x3 stem of stride 1, no max pooling)`, `resnet20 (zero-padding
/// shortcuts)`, `preact_resnet18 (a BatchNorm before the head)`.
impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let recipe = self.recipe();
        let stem = (recipe.stem != self.stem).then(|| self.stem.to_string());
        let shortcuts = (self.shortcuts != Shortcuts::Projection).then(|| self.shortcuts.to_string());
        let head_norm = (recipe.has_head_norm() != self.has_head_norm()).then(|| match self.has_head_norm() {
            true => "a BatchNorm before the head".to_string(),
            false => "no BatchNorm before the head".to_string(),
        });
        let projects = (recipe.projects_input() != self.projects_input()).then(|| match self.projects_input() {
            true => "projections of the block's input".to_string(),
            false => "projections of the pre-activated input".to_string(),
        });
        let head = (!self.head.is_linear()).then(|| self.head.to_string());
        let stem_width =
            (recipe.stem_width != self.stem_width).then(|| format!("a stem of {} channels", self.stem_width));
        let notes: Vec<String> =
            stem.into_iter().chain(stem_width).chain(shortcuts).chain(head_norm).chain(projects).chain(head).collect();
        match notes.is_empty() {
            true => f.write_str(self.name),
            false => write!(f, "{} ({})", self.name, notes.join(", ")),
        }
    }
}

/// Every architecture xai-lens reads: ImageNet's with its 1000 classes, CIFAR's with 10.
pub const VARIANTS: [Architecture; 39] = [
    variant("resnet50-keras-v1", Block::Bottleneck, [3, 4, 6, 3], 1, 64, Layout::Keras),
    // timm's, not torchvision's: the depths its ResNet-D models (resnet10t, resnet14t, resnet26d,
    // resnet200d) come in.
    variant("resnet10", Block::Basic, [1, 1, 1, 1], 1, 64, Layout::Torchvision),
    variant("resnet14", Block::Bottleneck, [1, 1, 1, 1], 1, 64, Layout::Torchvision),
    variant("resnet18", Block::Basic, [2, 2, 2, 2], 1, 64, Layout::Torchvision),
    variant("resnet26", Block::Bottleneck, [2, 2, 2, 2], 1, 64, Layout::Torchvision),
    variant("resnet34", Block::Basic, [3, 4, 6, 3], 1, 64, Layout::Torchvision),
    variant("resnet50", Block::Bottleneck, [3, 4, 6, 3], 1, 64, Layout::Torchvision),
    variant("resnet101", Block::Bottleneck, [3, 4, 23, 3], 1, 64, Layout::Torchvision),
    variant("resnet152", Block::Bottleneck, [3, 8, 36, 3], 1, 64, Layout::Torchvision),
    variant("resnet200", Block::Bottleneck, [3, 24, 36, 3], 1, 64, Layout::Torchvision),
    variant("wide_resnet50_2", Block::Bottleneck, [3, 4, 6, 3], 1, 128, Layout::Torchvision),
    variant("wide_resnet101_2", Block::Bottleneck, [3, 4, 23, 3], 1, 128, Layout::Torchvision),
    variant("resnext50_32x4d", Block::Bottleneck, [3, 4, 6, 3], 32, 4, Layout::Torchvision),
    variant("resnext101_32x8d", Block::Bottleneck, [3, 4, 23, 3], 32, 8, Layout::Torchvision),
    variant("resnext101_64x4d", Block::Bottleneck, [3, 4, 23, 3], 64, 4, Layout::Torchvision),
    cifar("resnet20", 3),
    cifar("resnet32", 5),
    cifar("resnet44", 7),
    cifar("resnet56", 9),
    cifar("resnet110", 18),
    cifar("resnet1202", 200),
    cifar_bottleneck("resnet164", 18, Order::PostActivation),
    cifar_bottleneck("resnet1001", 111, Order::PostActivation),
    cifar_bottleneck("preact_resnet164", 18, Order::PreActivation { head_norm: true, projects_input: true }),
    cifar_bottleneck("preact_resnet1001", 111, Order::PreActivation { head_norm: true, projects_input: true }),
    preact("preact_resnet18", Block::Basic, [2, 2, 2, 2]),
    preact("preact_resnet34", Block::Basic, [3, 4, 6, 3]),
    preact("preact_resnet50", Block::Bottleneck, [3, 4, 6, 3]),
    preact("preact_resnet101", Block::Bottleneck, [3, 4, 23, 3]),
    preact("preact_resnet152", Block::Bottleneck, [3, 8, 36, 3]),
    wide("wrn-16-4", 2, 4),
    wide("wrn-16-8", 2, 8),
    wide("wrn-28-4", 4, 4),
    wide("wrn-28-10", 4, 10),
    wide("wrn-34-10", 5, 10),
    wide("wrn-34-20", 5, 20),
    wide("wrn-40-2", 6, 2),
    wide("wrn-40-4", 6, 4),
    wide("wrn-70-16", 11, 16),
];

const fn variant(
    name: &'static str,
    block: Block,
    blocks: [usize; 4],
    groups: usize,
    width_per_group: usize,
    layout: Layout,
) -> Architecture {
    Architecture {
        name,
        block,
        blocks,
        base_width: 64,
        stem_width: 64,
        groups,
        width_per_group,
        layout,
        stem: Stem::IMAGENET,
        shortcuts: Shortcuts::Projection,
        order: Order::PostActivation,
        head: Head::LINEAR,
        classes: 1000,
    }
}

/// He et al.'s CIFAR ResNet of depth 6n + 2: a 3x3 stem of 16 channels, three stages of `n`
/// basic blocks (16, 32 and 64 channels), no max pooling, 32 px photos.
const fn cifar(name: &'static str, n: usize) -> Architecture {
    Architecture {
        name,
        block: Block::Basic,
        blocks: [n, n, n, 0],
        base_width: 16,
        stem_width: 16,
        groups: 1,
        width_per_group: 64,
        layout: Layout::Torchvision,
        stem: Stem::CIFAR,
        shortcuts: Shortcuts::Projection,
        order: Order::PostActivation,
        head: Head::LINEAR,
        classes: 10,
    }
}

/// He et al.'s deeper CIFAR ResNets of depth 9n + 2 ("Identity Mappings", section 4.3: ResNet-164
/// and -1001), as bearpaw's pytorch-classification builds them: He et al.'s CIFAR ResNet with
/// bottleneck blocks (16, 32 and 64 channels inside, four times that out), post-activation or
/// pre-activation with a BatchNorm and ReLU before the pooling and projections of the block's
/// input.
const fn cifar_bottleneck(name: &'static str, n: usize, order: Order) -> Architecture {
    // Field by field: a const fn cannot drop the rest of a struct update (its head's Vec).
    let mut architecture = cifar(name, n);
    architecture.block = Block::Bottleneck;
    architecture.order = order;
    architecture
}

/// kuangliu's pytorch-cifar PreActResNet: torchvision's stages of pre-activation blocks after a
/// 3x3 stem of 64 channels (no BatchNorm nor ReLU), no BatchNorm before the pooling, 32 px photos.
const fn preact(name: &'static str, block: Block, blocks: [usize; 4]) -> Architecture {
    Architecture {
        name,
        block,
        blocks,
        base_width: 64,
        stem_width: 64,
        groups: 1,
        width_per_group: 64,
        layout: Layout::Torchvision,
        stem: Stem::CIFAR,
        shortcuts: Shortcuts::Projection,
        order: Order::PreActivation { head_norm: false, projects_input: false },
        head: Head::LINEAR,
        classes: 10,
    }
}

/// Zagoruyko & Komodakis' Wide ResNet WRN-(6n + 4)-k for CIFAR, as RobustBench builds it: a 3x3
/// stem of 16 channels, three stages of `n` pre-activation basic blocks of 16k, 32k and 64k
/// channels, a BatchNorm and ReLU before the pooling, 32 px photos.
const fn wide(name: &'static str, n: usize, k: usize) -> Architecture {
    let mut architecture = preact(name, Block::Basic, [n, n, n, 0]);
    architecture.base_width = 16 * k;
    architecture.stem_width = 16;
    architecture.order = Order::PreActivation { head_norm: true, projects_input: false };
    architecture
}

/// The names `--arch` accepts.
pub fn variant_names() -> Vec<&'static str> {
    VARIANTS.iter().map(|v| v.name).collect()
}

/// A convolution as the weight file names it; BatchNorm is already folded in. A BatchNorm alone
/// is one too ([`ConvSpec::batch_norm`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvSpec {
    pub name: String,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
}

impl ConvSpec {
    /// A BatchNorm with no convolution before it to fold into, as the depthwise 1x1 convolution
    /// it is at inference: a scale (the weight) and a shift (the bias) per channel.
    pub fn batch_norm(name: String, channels: usize) -> Self {
        ConvSpec {
            name,
            in_channels: channels,
            out_channels: channels,
            kernel: 1,
            stride: 1,
            padding: 0,
            groups: channels,
        }
    }

    /// Whether it is a BatchNorm alone: no other convolution of the family is depthwise 1x1.
    pub fn is_batch_norm(&self) -> bool {
        self.kernel == 1 && self.groups == self.in_channels && self.groups == self.out_channels && self.groups > 1
    }

    /// Weight shape in burn's and PyTorch's OIHW layout (I per group).
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels / self.groups, self.kernel, self.kernel]
    }
}

/// The convolutions of one block, ReLU between them, and its shortcut; in a pre-activation
/// block, the BatchNorm (then a ReLU) its input goes through first, and whether its projection
/// reads the input as it came instead ([`Order::PreActivation`]).
#[derive(Debug, Clone)]
pub struct BlockSpec {
    pub norm: Option<ConvSpec>,
    pub main: Vec<ConvSpec>,
    pub shortcut: Shortcut,
    pub projects_input: bool,
}

/// A block's shortcut: its input as it is, or changed to the main path's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Shortcut {
    Identity,
    Projection(ConvSpec),
    /// Each `stride` x `stride` square averaged (ceil mode: a square the border cuts averages
    /// what it holds), then projected ([`Shortcuts::AveragePooled`]).
    Pooled {
        stride: usize,
        projection: ConvSpec,
    },
    /// Every `stride`-th pixel, with `before` zero channels in front and `after` behind.
    ZeroPadding {
        stride: usize,
        before: usize,
        after: usize,
    },
}

impl BlockSpec {
    pub fn convs(&self) -> impl Iterator<Item = &ConvSpec> {
        let projection = match &self.shortcut {
            Shortcut::Projection(spec) | Shortcut::Pooled { projection: spec, .. } => Some(spec),
            Shortcut::Identity | Shortcut::ZeroPadding { .. } => None,
        };
        self.norm.iter().chain(&self.main).chain(projection)
    }
}

impl Architecture {
    /// The Keras ResNet-50 the page ships.
    pub fn keras_resnet50() -> Self {
        VARIANTS[0].clone()
    }

    /// The variant called `name`, with `classes` classes.
    pub fn named(name: &str, classes: usize) -> Option<Self> {
        VARIANTS.iter().find(|v| v.name == name).map(|v| Architecture { classes, ..v.clone() })
    }

    fn expansion(&self) -> usize {
        match self.block {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }

    /// Its variant as made by its recipe, whatever its stem, shortcuts or BatchNorm before the
    /// head.
    pub fn recipe(&self) -> Architecture {
        Architecture::named(self.name, self.classes).unwrap_or_else(|| self.clone())
    }

    /// Its number of stages: four, or three in the CIFAR ResNets.
    pub fn stages(&self) -> usize {
        self.blocks.iter().take_while(|&&b| b > 0).count()
    }

    /// The layers explanations can hook: each stage's output.
    pub fn layers(&self) -> &'static [Layer] {
        &Layer::ALL[..self.stages()]
    }

    /// The last stage's output, which the head pools: the layer explanations default to.
    pub fn last_layer(&self) -> Layer {
        Layer::ALL[self.stages() - 1]
    }

    /// `layer`, if the network has it, else why not.
    pub fn check_layer(&self, layer: Layer) -> Result<Layer, String> {
        match self.layers().contains(&layer) {
            true => Ok(layer),
            false => Err(format!(
                "a {} has no {layer}: its layers are {}",
                self.name,
                self.layers().iter().map(Layer::to_string).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// What its layers lead to, which decides the methods defined at each.
    pub fn tail(&self) -> Tail {
        Tail { last: self.last_layer(), linear_head: self.head.is_linear() }
    }

    /// The parts of the network from the top down, in the order the model randomization test
    /// re-initialises them ([`cascade`]).
    pub fn cascade(&self) -> Vec<&'static str> {
        cascade(self.last_layer())
    }

    /// The side of `layer`'s maps for photos of `input` pixels a side: halved by each stride (a
    /// convolution padded to keep the size gives ceil(size / stride) pixels, as the pooling does).
    pub fn map_side(&self, layer: Layer, input: usize) -> usize {
        let pooled = input.div_ceil(self.stem.stride).div_ceil(if self.stem.max_pool { 2 } else { 1 });
        (0..layer.stage_index()).fold(pooled, |side, _| side.div_ceil(2))
    }

    /// Output channels of stage `s` (0 to 3).
    pub fn stage_channels(&self, s: usize) -> usize {
        (self.base_width << s) * self.expansion()
    }

    /// Channels inside a bottleneck of stage `s` (torchvision's `width`).
    fn inner_channels(&self, s: usize) -> usize {
        (self.base_width << s) * self.width_per_group / 64 * self.groups
    }

    /// Whether its blocks are pre-activation ones ([`Order::PreActivation`]).
    pub fn is_preactivation(&self) -> bool {
        matches!(self.order, Order::PreActivation { .. })
    }

    /// Whether a BatchNorm and ReLU come after the last stage, before the pooling.
    pub fn has_head_norm(&self) -> bool {
        matches!(self.order, Order::PreActivation { head_norm: true, .. })
    }

    /// Whether its pre-activation blocks project their input as it came, not pre-activated.
    pub fn projects_input(&self) -> bool {
        matches!(self.order, Order::PreActivation { projects_input: true, .. })
    }

    /// The BatchNorm (then a ReLU) after the last stage, before the pooling, where there is one.
    pub fn head_norm_spec(&self) -> Option<ConvSpec> {
        self.has_head_norm().then(|| ConvSpec::batch_norm("norm".into(), self.features()))
    }

    /// Channels of the last stage, pooled into the head.
    pub fn features(&self) -> usize {
        self.stage_channels(self.stages() - 1)
    }

    /// The head's name: `fc1000` in Keras, `fc` in torchvision.
    pub fn fc_name(&self) -> &'static str {
        match self.layout {
            Layout::Keras => "fc1000",
            Layout::Torchvision => "fc",
        }
    }

    /// The stem's convolutions, each padded to keep the size and followed by a ReLU (then a 3x3/2
    /// max pool where [`Stem::max_pool`] says): one, `conv1`, or a deep stem's three, named as
    /// timm's (`conv1.0`, `conv1.3`, `conv1.6`; their BatchNorms `conv1.1`, `conv1.4`, `bn1`).
    pub fn stem_specs(&self) -> Vec<ConvSpec> {
        let Stem { kernel, stride, deep, .. } = self.stem;
        let conv = |name: &str, in_channels, out_channels, stride| ConvSpec {
            name: name.into(),
            in_channels,
            out_channels,
            kernel,
            stride,
            padding: kernel / 2,
            groups: 1,
        };
        match deep {
            None => vec![conv("conv1", 3, self.stem_width, stride)],
            Some([first, second]) => vec![
                conv("conv1.0", 3, first, stride),
                conv("conv1.3", first, second, 1),
                conv("conv1.6", second, self.stem_width, 1),
            ],
        }
    }

    /// Every block of every stage, in forward order.
    pub fn block_specs(&self) -> Vec<Vec<BlockSpec>> {
        let mut in_channels = self.stem_width;
        (0..self.stages())
            .map(|s| {
                (0..self.blocks[s])
                    .map(|b| {
                        let stride = if b == 0 && s > 0 { 2 } else { 1 };
                        let out = self.stage_channels(s);
                        let spec = self.block_spec(s, b, in_channels, out, stride);
                        in_channels = out;
                        spec
                    })
                    .collect()
            })
            .collect()
    }

    fn block_spec(&self, s: usize, b: usize, cin: usize, out: usize, stride: usize) -> BlockSpec {
        let name = |conv: usize| match self.layout {
            // Keras numbers stages 2..=5 and blocks a, b, c...; branch 2a-2c is the main path.
            Layout::Keras => {
                format!("res{}{}_branch2{}", s + 2, char::from(b'a' + b as u8), char::from(b'a' + conv as u8))
            }
            Layout::Torchvision => format!("layer{}.{b}.conv{}", s + 1, conv + 1),
        };
        let conv = |conv: usize, cin, cout, kernel, stride, groups| ConvSpec {
            name: name(conv),
            in_channels: cin,
            out_channels: cout,
            kernel,
            stride,
            padding: kernel / 2,
            groups,
        };
        let main = match self.block {
            Block::Basic => vec![conv(0, cin, out, 3, stride, 1), conv(1, out, out, 3, 1, 1)],
            Block::Bottleneck => {
                let width = self.inner_channels(s);
                let (reduce_stride, spatial_stride) = match self.layout {
                    Layout::Keras => (stride, 1),
                    Layout::Torchvision => (1, stride),
                };
                vec![
                    conv(0, cin, width, 1, reduce_stride, 1),
                    conv(1, width, width, 3, spatial_stride, self.groups),
                    conv(2, width, out, 1, 1, 1),
                ]
            }
        };
        // A projection of `stride`, named as torchvision's `downsample.0`, or as timm's
        // `downsample.1` after its average pooling (`downsample.0`, an Identity at stride 1).
        let projection = |stride, index| ConvSpec {
            name: match self.layout {
                Layout::Keras => format!("res{}{}_branch1", s + 2, char::from(b'a' + b as u8)),
                Layout::Torchvision => format!("layer{}.{b}.downsample.{index}", s + 1),
            },
            in_channels: cin,
            out_channels: out,
            kernel: 1,
            stride,
            padding: 0,
            groups: 1,
        };
        let shortcut = match (stride != 1 || cin != out, self.shortcuts) {
            (false, _) => Shortcut::Identity,
            (true, Shortcuts::Projection) => Shortcut::Projection(projection(stride, 0)),
            (true, Shortcuts::AveragePooled) if stride == 1 => Shortcut::Projection(projection(1, 1)),
            (true, Shortcuts::AveragePooled) => Shortcut::Pooled { stride, projection: projection(1, 1) },
            (true, Shortcuts::ZeroPadding) => {
                let before = (out - cin) / 2;
                Shortcut::ZeroPadding { stride, before, after: out - cin - before }
            }
        };
        let norm = self.is_preactivation().then(|| ConvSpec::batch_norm(format!("layer{}.{b}.bn1", s + 1), cin));
        BlockSpec { norm, main, shortcut, projects_input: self.projects_input() }
    }

    /// Every conv of the network in forward order: the stem, then each block's, then the
    /// BatchNorm before the head where there is one.
    pub fn conv_specs(&self) -> Vec<ConvSpec> {
        let mut specs = self.stem_specs();
        specs.extend(self.block_specs().iter().flatten().flat_map(|b| b.convs().cloned()));
        specs.extend(self.head_norm_spec());
        specs
    }
}

/// What follows a network's layers, which decides where each method is defined: CAM reads the
/// head's weights, so it needs the last layer and a head of one Linear on average pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// The last stage's output, which the head pools.
    pub last: Layer,
    /// Whether the head is one Linear on average pooling ([`Head::is_linear`]).
    pub linear_head: bool,
}

impl Tail {
    /// torchvision's head after `last`.
    pub fn linear(last: Layer) -> Tail {
        Tail { last, linear_head: true }
    }
}

/// The parts of a network whose last layer is `last`, from the top down, in the order the model
/// randomization test re-initialises them: the head, each stage, the stem.
pub fn cascade(last: Layer) -> Vec<&'static str> {
    let stages = Layer::ALL[..=last.stage_index()].iter().rev().map(|layer| layer.name());
    std::iter::once("fc").chain(stages).chain(["conv1"]).collect()
}

/// Where explanations hook the network, in torchvision's naming: `layerN` is the output of stage
/// N (after its last block's add and ReLU; in a pre-activation network, its add, and for the
/// last stage of one with a BatchNorm before its head, after that BatchNorm and ReLU: what the
/// head pools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Layer1,
    Layer2,
    Layer3,
    Layer4,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Layer1, Layer::Layer2, Layer::Layer3, Layer::Layer4];

    /// Index of the stage, 0 to 3.
    pub fn stage_index(self) -> usize {
        self as usize
    }

    /// `layer1` to `layer4`.
    pub fn name(self) -> &'static str {
        ["layer1", "layer2", "layer3", "layer4"][self.stage_index()]
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|layer| layer.to_string() == s)
            .ok_or_else(|| format!("unknown layer '{s}' (valid: layer1, layer2, layer3, layer4)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(arch: &Architecture) -> usize {
        let convs: usize = arch.conv_specs().iter().map(|s| s.weight_shape().iter().product::<usize>()).sum();
        convs + arch.features() * arch.classes + arch.classes
    }

    /// BatchNorm's weights and biases: two per output channel of every conv.
    fn batch_norm_affine(arch: &Architecture) -> usize {
        arch.conv_specs().iter().map(|s| 2 * s.out_channels).sum()
    }

    #[test]
    fn keras_resnet50_has_53_convs_and_keras_names() {
        let arch = Architecture::keras_resnet50();
        let specs = arch.conv_specs();
        assert_eq!(specs.len(), 53);
        assert_eq!((specs[1].name.as_str(), specs[1].stride), ("res2a_branch2a", 1));
        assert_eq!((specs[11].name.as_str(), specs[11].stride), ("res3a_branch2a", 2));
        // 25,636,712 parameters in Keras, of which 4 * 26,560 are BatchNorm's; each conv has a bias.
        let biases: usize = specs.iter().map(|s| s.out_channels).sum();
        assert_eq!(parameters(&arch) + biases, 25_636_712 - 4 * 26_560);
    }

    #[test]
    fn torchvision_variants_have_torchvisions_parameter_counts() {
        // torchvision's own counts (its `num_params`), which include BatchNorm's weights and biases.
        for (name, count) in [
            ("resnet18", 11_689_512),
            ("resnet34", 21_797_672),
            ("resnet50", 25_557_032),
            ("resnet101", 44_549_160),
            ("resnet152", 60_192_808),
            ("wide_resnet50_2", 68_883_240),
            ("wide_resnet101_2", 126_886_696),
            ("resnext50_32x4d", 25_028_904),
            ("resnext101_32x8d", 88_791_336),
            ("resnext101_64x4d", 83_455_272),
        ] {
            let arch = Architecture::named(name, 1000).unwrap();
            assert_eq!(parameters(&arch) + batch_norm_affine(&arch), count, "{name}");
        }
    }

    #[test]
    fn torchvision_strides_sit_on_the_3x3_and_names_follow_its_modules() {
        let arch = Architecture::named("resnet50", 10).unwrap();
        let block = &arch.block_specs()[1][0];
        let strides: Vec<usize> = block.main.iter().map(|c| c.stride).collect();
        assert_eq!(strides, [1, 2, 1]);
        assert_eq!(block.main[1].name, "layer2.0.conv2");
        assert!(matches!(&block.shortcut, Shortcut::Projection(spec) if spec.name == "layer2.0.downsample.0"));
        assert_eq!((arch.features(), arch.fc_name()), (2048, "fc"));
        let resnext = Architecture::named("resnext50_32x4d", 10).unwrap();
        assert_eq!(resnext.block_specs()[0][0].main[1].weight_shape(), [128, 4, 3, 3]);
        let basic = Architecture::named("resnet18", 10).unwrap();
        assert_eq!(basic.block_specs()[0][0].shortcut, Shortcut::Identity);
        assert_eq!(basic.features(), 512);
    }

    #[test]
    fn cifar_resnets_have_three_stages_of_16_to_64_channels() {
        // akamaster's pytorch_resnet_cifar10 counts (option A: no shortcut weights), 10 classes.
        for (name, count) in [
            ("resnet20", 269_722),
            ("resnet32", 464_154),
            ("resnet44", 658_586),
            ("resnet56", 853_018),
            ("resnet110", 1_727_962),
            ("resnet1202", 19_421_274),
        ] {
            let arch = Architecture { shortcuts: Shortcuts::ZeroPadding, ..Architecture::named(name, 10).unwrap() };
            assert_eq!(parameters(&arch) + batch_norm_affine(&arch), count, "{name}");
        }
        // bearpaw's pytorch-classification of bottlenecks (projections), counted by torch.
        for (name, count) in [("resnet164", 1_704_154), ("resnet1001", 10_328_602)] {
            let arch = Architecture::named(name, 10).unwrap();
            assert_eq!(parameters(&arch) + batch_norm_affine(&arch), count, "{name}");
            assert_eq!((arch.stages(), arch.features(), arch.stem_width), (3, 256, 16));
        }
        let arch = Architecture::named("resnet20", 10).unwrap();
        assert_eq!((arch.stages(), arch.features(), arch.last_layer()), (3, 64, Layer::Layer3));
        assert_eq!(arch.cascade(), ["fc", "layer3", "layer2", "layer1", "conv1"]);
        assert_eq!((arch.stem, arch.stem.input_size().get()), (Stem::CIFAR, 32));
        assert!(arch.check_layer(Layer::Layer4).unwrap_err().contains("its layers are layer1, layer2, layer3"));
        let padded = Architecture { shortcuts: Shortcuts::ZeroPadding, ..arch.clone() };
        assert_eq!(padded.block_specs()[2][0].shortcut, Shortcut::ZeroPadding { stride: 2, before: 16, after: 16 });
        assert_eq!(padded.to_string(), "resnet20 (zero-padding shortcuts)");
        assert!(
            matches!(&arch.block_specs()[1][0].shortcut, Shortcut::Projection(spec) if spec.weight_shape() == [32, 16, 1, 1])
        );
        assert_eq!(arch.to_string(), "resnet20");
        let resnet50 = Architecture::named("resnet50", 10).unwrap();
        assert_eq!(resnet50.cascade(), ["fc", "layer4", "layer3", "layer2", "layer1", "conv1"]);
        let sides = |a: &Architecture, input| Layer::ALL.map(|layer| a.map_side(layer, input));
        assert_eq!((sides(&resnet50, 224), sides(&resnet50, 225)), ([56, 28, 14, 7], [57, 29, 15, 8]));
        assert_eq!(sides(&arch, 32)[..3], [32, 16, 8]);
    }

    #[test]
    fn pre_activation_resnets_have_their_codes_parameter_counts() {
        // Besides each BatchNorm alone (scale and shift, in `parameters` and `norms` here), the
        // BatchNorm after each convolution of a block but its last, folded into it.
        let batch_norms = |arch: &Architecture| -> usize {
            let blocks = arch.block_specs();
            let folded = blocks.iter().flatten().flat_map(|b| &b.main[..b.main.len() - 1]).map(|c| 2 * c.out_channels);
            let norms = arch.conv_specs().into_iter().filter(ConvSpec::is_batch_norm).map(|s| s.out_channels);
            folded.chain(norms).sum()
        };
        // kuangliu's pytorch-cifar and RobustBench's WideResNet, counted by torch, 10 classes.
        for (name, count) in [
            ("preact_resnet18", 11_171_146),
            ("preact_resnet34", 21_279_306),
            ("preact_resnet50", 23_509_066),
            ("preact_resnet101", 42_501_194),
            ("preact_resnet152", 58_144_842),
            ("wrn-16-4", 2_748_890),
            ("wrn-28-10", 36_479_194),
            ("wrn-34-10", 46_160_474),
            ("wrn-40-2", 2_243_546),
            ("wrn-70-16", 266_796_506),
            // bearpaw's pytorch-classification (`preresnet`, projections of the blocks' input).
            ("preact_resnet164", 1_703_258),
            ("preact_resnet1001", 10_327_706),
        ] {
            let arch = Architecture::named(name, 10).unwrap();
            assert_eq!(parameters(&arch) + batch_norms(&arch), count, "{name}");
        }
        let wrn = Architecture::named("wrn-28-10", 10).unwrap();
        let first = &wrn.block_specs()[0][0];
        assert_eq!(
            first.norm.as_ref().map(|n| (n.name.as_str(), n.weight_shape())),
            Some(("layer1.0.bn1", [16, 1, 1, 1]))
        );
        assert!(
            matches!(&first.shortcut, Shortcut::Projection(p) if p.weight_shape() == [160, 16, 1, 1] && p.stride == 1)
        );
        assert_eq!(wrn.conv_specs().last().map(|s| (s.name.as_str(), s.out_channels)), Some(("norm", 640)));
        assert_eq!((wrn.last_layer(), wrn.stem_specs()[0].out_channels), (Layer::Layer3, 16));
        let preact = Architecture::named("preact_resnet18", 10).unwrap();
        assert_eq!((preact.head_norm_spec(), preact.stem), (None, Stem::CIFAR));
        assert!(
            !preact.stem_specs()[0].is_batch_norm()
                && preact.block_specs()[3][1].norm.as_ref().unwrap().is_batch_norm()
        );
    }

    #[test]
    fn layers_parse_and_print() {
        assert_eq!("layer3".parse::<Layer>(), Ok(Layer::Layer3));
        assert!("layer5".parse::<Layer>().unwrap_err().contains("layer1, layer2"));
    }

    #[test]
    fn a_stem_other_than_imagenets_is_named() {
        let mut arch = Architecture::named("resnet18", 10).unwrap();
        assert_eq!(arch.to_string(), "resnet18");
        arch.stem = Stem::of_kernel(3).unwrap();
        assert_eq!(arch.stem_specs()[0].weight_shape(), [64, 3, 3, 3]);
        assert_eq!((arch.stem_specs()[0].stride, arch.stem_specs()[0].padding), (1, 1));
        assert_eq!(arch.to_string(), "resnet18 (3x3 stem of stride 1, no max pooling)");
        assert_eq!(Stem::of_kernel(5), None);
        assert!(!Stem { kernel: 4, stride: 1, max_pool: false, deep: None }.is_valid());
    }
}
