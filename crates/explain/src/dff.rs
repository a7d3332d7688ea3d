//! Deep Feature Factorization: Collins et al., "Deep Feature Factorization for Concept
//! Discovery" (ECCV 2018). The layer4 activations of one or several photos, as a
//! (channels x positions) matrix minus each channel's minimum (as pytorch-grad-cam does), are
//! factorised by non-negative matrix factorisation, A ~ W H, with Lee & Seung's multiplicative
//! updates (`xai_nmf`, on the host). Each column of W (+ the offset) is a concept, classified by
//! the FC head; each row of H is where that concept lies. One factorisation over several photos
//! makes the same concept light up in all of them.

use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, TensorData};
use xai_model::{Labels, Layer, ResNet};
use xai_nmf::{Factors, Matrix};

use crate::budget::images_per_pass;
use crate::map::Map;
use crate::readback::{read_floats, ReadbackError};

/// The NMF's options; k is the number of concepts.
pub use xai_nmf::{Options as DffOptions, K_RANGE};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DffError {
    #[error("k = {0} is out of range (valid: 1 to 16 concepts)")]
    K(usize),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// One concept: its two most probable classes and the share of positions where its scaled map
/// is the strongest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Concept {
    pub labels: Vec<(String, f32)>,
    pub share: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Concepts {
    pub concepts: Vec<Concept>,
    /// Per photo, one map per concept (a row of H) at layer4's resolution, scaled so each
    /// concept peaks at 1 over all photos.
    pub maps: Vec<Vec<Map>>,
    /// ||A - W H||_F / ||A||_F on the offset matrix.
    pub rel_error: f32,
    pub iterations: usize,
}

impl Concepts {
    /// Where concept `k` is strongest: the photo, and the row and column of its map there.
    pub fn strongest(&self, k: usize) -> (usize, usize, usize) {
        let mut best = (0, 0, 0, f32::NEG_INFINITY);
        for (photo, maps) in self.maps.iter().enumerate() {
            for (i, &value) in maps[k].values.iter().enumerate() {
                if value > best.3 {
                    best = (photo, i / maps[k].width, i % maps[k].width, value);
                }
            }
        }
        (best.0, best.1, best.2)
    }
}

async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, DffError> {
    Ok(read_floats(tensor).await?)
}

/// Factorises the layer4 activations of a batch of photos [N, 3, S, S] into `k` concepts shared
/// by all of them, classifies each concept and reads back the maps.
pub async fn factorize_concepts(
    net: &ResNet,
    input: &Tensor<4>,
    labels: &Labels,
    options: DffOptions,
) -> Result<Concepts, DffError> {
    if !K_RANGE.contains(&options.k) {
        return Err(DffError::K(options.k));
    }
    // Read back as [positions, channels], in passes within the memory budget (many photos at a
    // large input size would not fit in one); the factorisation runs on the host (`xai_nmf` says why).
    let [n, _, height, width] = input.dims();
    let per_pass = images_per_pass(height, width, n);
    let (mut values, mut shape) = (Vec::new(), [0; 3]);
    for start in (0..n).step_by(per_pass) {
        let activations = net.features(input.clone().slice_dim(0, start..(start + per_pass).min(n)), Layer::Layer4);
        let [images, c, h, w] = activations.dims();
        shape = [c, h, w];
        values.extend(read(activations.permute([0, 2, 3, 1]).reshape([images * h * w, c])).await?);
    }
    let [c, h, w] = shape;
    let positions = n * h * w;
    let offset: Vec<f32> =
        (0..c).map(|ch| (0..positions).map(|p| values[p * c + ch]).fold(f32::INFINITY, f32::min)).collect();
    let matrix = Matrix::from_fn(c, positions, |ch, p| values[p * c + ch] - offset[ch]);
    drop(values);
    let Factors { w_t, h: coefficients, rel_error, iterations } =
        xai_nmf::factorize(&matrix, options).ok_or(DffError::K(options.k))?;

    // W H = (W D^-1)(D H) for any positive diagonal D, so a row of H has no scale of its own:
    // each concept's map is scaled to peak at 1 over all photos (pytorch-grad-cam scales per
    // photo, which lights up a concept even in a photo where it is barely present).
    let coefficients: Vec<f32> = coefficients
        .chunks(positions)
        .flat_map(|row| {
            let peak = row.iter().copied().fold(0.0, f32::max) + f32::MIN_POSITIVE;
            row.iter().map(move |v| v / peak)
        })
        .collect();
    let concept_vectors: Vec<f32> = w_t.iter().enumerate().map(|(i, v)| v + offset[i % c]).collect();
    let concept_vectors = Tensor::<2>::from_data(TensorData::new(concept_vectors, [options.k, c]), &input.device());
    let probabilities = softmax(net.classify_pooled(concept_vectors), 1);
    let [_, classes] = probabilities.dims();
    let probabilities = read(probabilities).await?;

    let k = options.k;
    let mut wins = vec![0usize; k];
    for p in 0..positions {
        let best = (0..k).max_by(|&x, &y| coefficients[x * positions + p].total_cmp(&coefficients[y * positions + p]));
        wins[best.expect("k >= 1")] += 1;
    }
    let concepts = (0..k)
        .map(|i| {
            let probs = &probabilities[i * classes..(i + 1) * classes];
            let top = labels.top_of_probabilities(probs, 2);
            Concept {
                labels: top.into_iter().map(|p| (p.label, p.prob)).collect(),
                share: wins[i] as f32 / positions as f32,
            }
        })
        .collect();
    let maps = (0..n)
        .map(|image| {
            (0..k)
                .map(|i| {
                    let start = i * positions + image * h * w;
                    Map::new(h, w, coefficients[start..start + h * w].to_vec())
                })
                .collect()
        })
        .collect();
    Ok(Concepts { concepts, maps, rel_error, iterations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{network, photos};

    #[test]
    fn concepts_share_every_position_and_map_every_photo() {
        let net = network();
        let options = DffOptions { k: 3, ..DffOptions::default() };
        let concepts =
            pollster::block_on(factorize_concepts(&net, &photos(2), &Labels::numbered(1000), options)).unwrap();
        assert_eq!(concepts.concepts.len(), 3);
        let shares: f32 = concepts.concepts.iter().map(|c| c.share).sum();
        assert!((shares - 1.0).abs() < 1e-6, "shares sum to {shares}");
        assert!(concepts.concepts.iter().all(|c| c.labels.len() == 2 && c.labels[0].1 >= c.labels[1].1));
        assert_eq!((concepts.maps.len(), concepts.maps[0].len(), concepts.maps[0][0].width), (2, 3, 2));
        // Each concept's map peaks at exactly 1 over both photos.
        for k in 0..3 {
            let peak = concepts.maps.iter().flat_map(|photo| &photo[k].values).fold(0f32, |m, v| m.max(*v));
            assert!((peak - 1.0).abs() < 1e-5, "concept {k} peaks at {peak}");
            let (photo, row, col) = concepts.strongest(k);
            assert_eq!(concepts.maps[photo][k].values[row * 2 + col], peak);
        }
        assert!(concepts.rel_error.is_finite() && concepts.rel_error < 1.0);
    }

    #[test]
    fn k_out_of_range_is_refused() {
        let options = DffOptions { k: 17, ..DffOptions::default() };
        let result = pollster::block_on(factorize_concepts(&network(), &photos(1), &Labels::numbered(1000), options));
        assert_eq!(result.unwrap_err(), DffError::K(17));
    }
}
