//! ResNet-50 v1 as data: He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016),
//! Table 1, in the layout of Keras' `ResNet50` (stride on the first 1x1 conv of a downsampling
//! block, biases on every conv, BatchNorm folded away at conversion time).

use std::fmt;
use std::str::FromStr;

/// ImageNet classes the FC head scores.
pub const CLASSES: usize = 1000;
/// Channels of the last stage, pooled into the FC head.
pub const FEATURES: usize = 2048;

/// One residual stage: `blocks` bottlenecks of `width` inner channels and `4 * width` outputs.
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    /// Keras numbers stages 2..=5 (`res2a_...`); stage 1 is the stem.
    pub number: usize,
    pub blocks: usize,
    pub width: usize,
    /// Stride of the first block (on its first 1x1 conv and its projection shortcut).
    pub stride: usize,
}

impl Stage {
    pub fn out_channels(&self) -> usize {
        4 * self.width
    }

    /// Keras' block name: `res3b` is the second block of stage 3.
    pub fn block_name(&self, block: usize) -> String {
        format!("res{}{}", self.number, char::from(b'a' + block as u8))
    }
}

pub const STAGES: [Stage; 4] = [
    Stage { number: 2, blocks: 3, width: 64, stride: 1 },
    Stage { number: 3, blocks: 4, width: 128, stride: 2 },
    Stage { number: 4, blocks: 6, width: 256, stride: 2 },
    Stage { number: 5, blocks: 3, width: 512, stride: 2 },
];

/// A convolution as the weight file names it; BatchNorm is already folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvSpec {
    pub name: String,
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvSpec {
    /// Weight shape in burn's OIHW layout.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.out_channels, self.in_channels, self.kernel, self.kernel]
    }

    /// Name of the BatchNorm layer that follows this conv in the Keras model.
    pub fn batch_norm_name(&self) -> String {
        match self.name.strip_prefix("res") {
            Some(rest) => format!("bn{rest}"),
            None => format!("bn_{}", self.name),
        }
    }
}

/// The four convolutions of one bottleneck block; `shortcut` only where the shape changes.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    pub reduce: ConvSpec,
    pub spatial: ConvSpec,
    pub expand: ConvSpec,
    pub shortcut: Option<ConvSpec>,
}

impl BlockSpec {
    pub fn convs(&self) -> impl Iterator<Item = &ConvSpec> {
        [&self.reduce, &self.spatial, &self.expand].into_iter().chain(self.shortcut.as_ref())
    }
}

/// The stem: ZeroPadding(3) + 7x7/2 conv (then ReLU and a 3x3/2 max pool).
pub fn stem_spec() -> ConvSpec {
    ConvSpec { name: "conv1".into(), in_channels: 3, out_channels: 64, kernel: 7, stride: 2, padding: 3 }
}

/// Every block of every stage, in forward order.
pub fn block_specs() -> Vec<Vec<BlockSpec>> {
    let mut in_channels = stem_spec().out_channels;
    STAGES
        .iter()
        .map(|stage| {
            (0..stage.blocks)
                .map(|block| {
                    let name = stage.block_name(block);
                    let stride = if block == 0 { stage.stride } else { 1 };
                    let conv = |branch: &str, cin, cout, kernel, stride| ConvSpec {
                        name: format!("{name}_branch{branch}"),
                        in_channels: cin,
                        out_channels: cout,
                        kernel,
                        stride,
                        padding: kernel / 2,
                    };
                    let spec = BlockSpec {
                        reduce: conv("2a", in_channels, stage.width, 1, stride),
                        spatial: conv("2b", stage.width, stage.width, 3, 1),
                        expand: conv("2c", stage.width, stage.out_channels(), 1, 1),
                        shortcut: (block == 0).then(|| conv("1", in_channels, stage.out_channels(), 1, stride)),
                    };
                    in_channels = stage.out_channels();
                    spec
                })
                .collect()
        })
        .collect()
}

/// Every conv of the network in forward order: the stem, then each block's.
pub fn conv_specs() -> Vec<ConvSpec> {
    let blocks = block_specs();
    let mut specs = vec![stem_spec()];
    specs.extend(blocks.iter().flatten().flat_map(|b| b.convs().cloned()));
    specs
}

/// Where explanations hook the network, in torchvision's naming: `layerN` is the output of
/// Keras stage `N + 1` (after its last block's add and ReLU): 56, 28, 14 and 7 px at 224 input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Layer1,
    Layer2,
    Layer3,
    Layer4,
}

impl Layer {
    pub const ALL: [Layer; 4] = [Layer::Layer1, Layer::Layer2, Layer::Layer3, Layer::Layer4];

    /// Index into [`STAGES`].
    pub fn stage_index(self) -> usize {
        self as usize
    }

    pub fn channels(self) -> usize {
        STAGES[self.stage_index()].out_channels()
    }

    /// Spatial size of this layer's maps for a square input of `input_size` pixels.
    pub fn map_size(self, input_size: usize) -> usize {
        input_size / (4 << self.stage_index())
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "layer{}", self.stage_index() + 1)
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

    #[test]
    fn resnet50_has_53_convs_and_keras_names() {
        let specs = conv_specs();
        assert_eq!(specs.len(), 53);
        assert_eq!(specs[1].name, "res2a_branch2a");
        assert_eq!(specs[1].batch_norm_name(), "bn2a_branch2a");
        assert_eq!(specs[0].batch_norm_name(), "bn_conv1");
        let params: usize = specs.iter().map(|s| s.weight_shape().iter().product::<usize>() + s.out_channels).sum();
        // 25,636,712 parameters in Keras, of which 4 * 26,560 are BatchNorm's and 2,049,000 the FC's.
        assert_eq!(params + FEATURES * CLASSES + CLASSES, 25_636_712 - 4 * 26_560);
    }

    #[test]
    fn layers_parse_and_print() {
        assert_eq!("layer3".parse::<Layer>(), Ok(Layer::Layer3));
        assert!("layer5".parse::<Layer>().unwrap_err().contains("layer1, layer2"));
        assert_eq!(Layer::Layer4.map_size(224), 7);
        assert_eq!(Layer::Layer1.map_size(448), 112);
    }
}
