//! pytorch-grad-cam's `aug_smooth`: test-time augmentation (ttach: horizontal flip x input
//! multiplied by 0.9, 1, 1.1). Each augmented map is taken back to the original orientation,
//! normalised, resized to the input and normalised again, as pytorch-grad-cam's `forward` does,
//! then the six are averaged.

use burn::tensor::Tensor;
use xai_model::ResNet;

use crate::map::Map;
use crate::pipeline::{explain, CamError, CamRequest};
use crate::readback::read_maps;

const FACTORS: [f32; 3] = [0.9, 1.0, 1.1];

/// Smoothed maps at the input's resolution, in [0, 1], one per image.
pub async fn augmented_maps(net: &ResNet, input: &Tensor<4>, request: CamRequest<'_>) -> Result<Vec<Map>, CamError> {
    let [n, _, height, width] = input.dims();
    let mut sums = vec![Map::new(height, width, vec![0.0; height * width]); n];
    for flip in [false, true] {
        for factor in FACTORS {
            let mut augmented = input.clone() * factor;
            if flip {
                augmented = augmented.flip([3]);
            }
            let mut maps = explain(net, &augmented, request)?.maps;
            if flip {
                maps = maps.flip([2]);
            }
            let maps = read_maps(maps).await?;
            for (sum, map) in sums.iter_mut().zip(maps) {
                let final_map = map.normalised().resized(height, width).normalised();
                sum.values.iter_mut().zip(final_map.values).for_each(|(s, v)| *s += v);
            }
        }
    }
    let count = (2 * FACTORS.len()) as f32;
    Ok(sums
        .into_iter()
        .map(|m| Map::new(m.height, m.width, m.values.into_iter().map(|v| v / count).collect()))
        .collect())
}
