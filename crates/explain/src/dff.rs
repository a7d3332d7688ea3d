//! Deep Feature Factorization: Collins et al., "Deep Feature Factorization for Concept
//! Discovery" (ECCV 2018). The layer4 activations of one or several photos, as a
//! (channels x positions) matrix minus each channel's minimum (as pytorch-grad-cam does), are
//! factorised by non-negative matrix factorisation, A ~ W H, with Lee & Seung's multiplicative
//! updates on the device. Each column of W (+ the offset) is a concept, classified by the FC
//! head; each row of H is where that concept lies. One factorisation over several photos makes
//! the same concept light up in all of them.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use xai_model::{Labels, Layer, ResNet};

use crate::readback::{read_floats, ReadbackError};
use crate::render::Map;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DffOptions {
    /// Number of concepts.
    pub k: usize,
    pub max_iterations: usize,
    /// Stop when the error improved by less than this fraction of the initial error over the
    /// last check (checked every 10 iterations, as scikit-learn).
    pub tolerance: f32,
    pub seed: u64,
}

impl Default for DffOptions {
    fn default() -> Self {
        Self { k: 5, max_iterations: 200, tolerance: 1e-4, seed: 0 }
    }
}

/// Valid numbers of concepts.
pub const K_RANGE: std::ops::RangeInclusive<usize> = 1..=16;

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

/// SplitMix64: a seeded, portable generator so a share link gives the same concepts everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// |N(0, 1)| by Box-Muller, as scikit-learn's random init draws |normal| values.
    fn abs_normal(&mut self) -> f32 {
        let (u, v) = (1.0 - self.next_unit(), self.next_unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()).abs() as f32
    }
}

async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, DffError> {
    Ok(read_floats(tensor).await?)
}

/// Denominator guard of the multiplicative updates.
const EPSILON: f32 = 1e-10;

/// scikit-learn checks the error every 10 iterations.
const CHECK_EVERY: usize = 10;

/// On a GPU each readback waits for the queue to drain, so the checks are read back five at a
/// time: the result is the same, and the up to 40 iterations run past a stop are dropped. On the
/// CPU a readback is free and those iterations are not.
fn checks_per_read(device: &Device) -> usize {
    if *device == Device::flex() { 1 } else { 5 }
}

/// Factorises the non-negative `a` [C, P] into W [C, k] H [k, P]. Returns W, H, the relative
/// error and the iterations run.
pub async fn factorize(a: Tensor<2>, options: DffOptions) -> Result<(Tensor<2>, Tensor<2>, f32, usize), DffError> {
    let [c, p] = a.dims();
    let k = options.k;
    let device = a.device();
    // scikit-learn's 'random' init: |N(0,1)| scaled by sqrt(mean(A) / k).
    let mut rng = SplitMix64(options.seed);
    let mut random = |rows, cols| {
        let values: Vec<f32> = (0..rows * cols).map(|_| rng.abs_normal()).collect();
        Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), &device)
    };
    let (w0, h0) = (random(c, k), random(k, p));
    let scale = (a.clone().mean() / k as f32).sqrt().reshape([1, 1]);
    let (mut w, mut h) = (w0 * scale.clone(), h0 * scale);
    let norm_squared = a.clone().powi_scalar(2).sum();
    // W^T A and W^T W for the current W: the next H update needs them, and with H H^T they give
    // the error without forming the [C, P] residual, which costs as much as an iteration on flex:
    // ||A - W H||^2 = ||A||^2 - 2 <H, W^T A> + <W^T W, H H^T>.
    let products = |w: &Tensor<2>| {
        let wt = w.clone().transpose();
        (wt.clone().matmul(a.clone()), wt.matmul(w.clone()))
    };
    let error = |h: &Tensor<2>, wta: &Tensor<2>, wtw: &Tensor<2>, hht: &Tensor<2>| {
        let cross = (h.clone() * wta.clone()).sum() * 2.0;
        (norm_squared.clone() - cross + (wtw.clone() * hht.clone()).sum()).clamp_min(0.0).sqrt()
    };
    let gram = |h: &Tensor<2>| h.clone().matmul(h.clone().transpose());

    let (mut wta, mut wtw) = products(&w);
    let initial = read(error(&h, &wta, &wtw, &gram(&h))).await?[0];
    let mut previous = initial;
    let mut iterations = 0;
    let checks_per_read = checks_per_read(&device);
    // The errors at the checks, with the factors they belong to, not yet read back.
    let mut unread: Vec<(Tensor<1>, Tensor<2>, Tensor<2>, usize)> = Vec::new();
    'updates: while iterations < options.max_iterations {
        iterations += 1;
        h = h.clone() * wta / (wtw.matmul(h.clone()) + EPSILON);
        let hht = gram(&h);
        w = w.clone() * a.clone().matmul(h.clone().transpose()) / (w.clone().matmul(hht.clone()) + EPSILON);
        (wta, wtw) = products(&w);
        if iterations % CHECK_EVERY != 0 {
            continue;
        }
        unread.push((error(&h, &wta, &wtw, &hht), w.clone(), h.clone(), iterations));
        if unread.len() < checks_per_read && iterations + CHECK_EVERY <= options.max_iterations {
            continue;
        }
        let errors = read(Tensor::cat(unread.iter().map(|(e, ..)| e.clone()).collect(), 0)).await?;
        for (current, (_, w_then, h_then, iterations_then)) in errors.into_iter().zip(unread.drain(..)) {
            if (previous - current) / initial < options.tolerance {
                (w, h, iterations) = (w_then, h_then, iterations_then);
                break 'updates;
            }
            previous = current;
        }
    }
    // The reported error from the residual itself: near zero, the identity above loses digits.
    let residual = (a.clone() - w.clone().matmul(h.clone())).powi_scalar(2).sum().sqrt();
    let values = read(Tensor::cat(vec![residual, norm_squared.sqrt()], 0)).await?;
    Ok((w, h, values[0] / values[1].max(f32::MIN_POSITIVE), iterations))
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
    let activations = net.features(input.clone(), Layer::Layer4);
    let [n, c, h, w] = activations.dims();
    let matrix = activations.swap_dims(0, 1).reshape([c, n * h * w]);
    let offset = matrix.clone().min_dim(1);
    let (basis, coefficients, rel_error, iterations) = factorize(matrix - offset.clone(), options).await?;

    // W H = (W D^-1)(D H) for any positive diagonal D, so a row of H has no scale of its own:
    // each concept's map is scaled to peak at 1 over all photos (pytorch-grad-cam scales per
    // photo, which lights up a concept even in a photo where it is barely present).
    let coefficients = coefficients.clone() / (coefficients.max_dim(1) + f32::MIN_POSITIVE);
    let concept_vectors = (basis + offset).transpose();
    let probabilities = read(softmax(net.classify_pooled(concept_vectors), 1)).await?;
    let coefficients = read(coefficients).await?;

    let k = options.k;
    let positions = n * h * w;
    let mut wins = vec![0usize; k];
    for p in 0..positions {
        let best = (0..k).max_by(|&x, &y| coefficients[x * positions + p].total_cmp(&coefficients[y * positions + p]));
        wins[best.expect("k >= 1")] += 1;
    }
    let concepts = (0..k)
        .map(|i| {
            let probs = &probabilities[i * 1000..(i + 1) * 1000];
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

    #[test]
    fn recovers_an_exactly_low_rank_matrix() {
        let device = burn::tensor::Device::flex();
        // A = W H with non-negative rank-2 factors.
        let w = Tensor::<2>::from_data(TensorData::new(vec![1.0, 0.0, 0.5, 2.0, 0.0, 1.0, 3.0, 1.0], [4, 2]), &device);
        let h = Tensor::<2>::from_data(TensorData::new(vec![1.0, 2.0, 0.0, 1.0, 0.0, 1.0, 3.0, 1.0], [2, 4]), &device);
        // Every iteration runs: this checks the updates, not when they stop (the f32 error checks
        // cannot see improvements below about 1e-3 of ||A||).
        let options = DffOptions { k: 2, max_iterations: 2000, tolerance: f32::NEG_INFINITY, seed: 7 };
        let (_, _, error, _) = pollster::block_on(factorize(w.matmul(h), options)).unwrap();
        assert!(error < 1e-3, "relative error {error}");
    }
}
