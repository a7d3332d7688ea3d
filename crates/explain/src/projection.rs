//! The first principal component of each image's (positions x channels) activations, as
//! pytorch-grad-cam's `get_2d_projection` (centre the columns, project on the first right
//! singular vector), computed on the device so it runs on WebGPU too, where burn has no SVD.

use burn::tensor::{Tensor, TensorData};

/// Power iterations on the Gram matrix; each multiplies the error by lambda2 / lambda1.
const ITERATIONS: usize = 200;
/// A Gram matrix of up to this size (layer4's 49 positions, layer3's 196 at 224 x 224) is
/// squared [`SQUARINGS`] times first, so that each iteration counts for 2^SQUARINGS of them: 5
/// products instead of some 170 iterations' dozen small kernels, which on a GPU each cost a
/// launch (on WebGPU most of the compare view's time beyond one Grad-CAM). Larger ones would
/// cost more in the squarings (size^3) than the iterations save.
const SQUARED_UP_TO: usize = 256;
const SQUARINGS: u32 = 5;

/// Projections [N, H, W] of activations [N, C, H, W]: X v1 for the centred (positions x
/// channels) X and its first right singular vector v1, which equals sigma1 u1. Found from the
/// smaller Gram matrix: X X^T (positions x positions) for u1 where there are fewer positions
/// than channels (layer4 at any usual size), else X^T X (channels x channels) for v1, which
/// keeps layer1 of a 1024-pixel photo (65,536 positions) at 256 x 256 rather than 17 GB. The
/// sign of a singular vector is arbitrary: we orient it to agree with the channel sum.
pub fn first_component(activations: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = activations.dims();
    let positions = h * w;
    let x = activations.reshape([n, c, positions]).swap_dims(1, 2);
    let centred = x.clone() - x.clone().mean_dim(1);
    let projection = if positions <= c {
        let gram = centred.clone().matmul(centred.swap_dims(1, 2));
        let u = leading_eigenvector(gram.clone());
        let sigma = (u.clone() * gram.matmul(u.clone())).sum_dim(1).clamp_min(0.0).sqrt();
        u * sigma
    } else {
        let v = leading_eigenvector(centred.clone().swap_dims(1, 2).matmul(centred.clone()));
        centred.matmul(v)
    };
    let channel_sum = x.sum_dim(2);
    let agreement = ((channel_sum.clone() - channel_sum.mean_dim(1)) * projection.clone()).sum_dim(1);
    let sign = agreement.clone().sign() + agreement.equal_elem(0.0).float();
    (projection * sign).reshape([n, h, w])
}

/// The unit eigenvector [N, S, 1] of the largest eigenvalue of each symmetric positive
/// semi-definite [S, S] matrix of `gram` [N, S, S], by power iterations.
fn leading_eigenvector(gram: Tensor<3>) -> Tensor<3> {
    let [n, size, _] = gram.dims();
    // Not the all-ones vector: for X X^T with centred columns it lies in the null space.
    let start: Vec<f32> = (0..n * size).map(|i| 1.0 + ((i % size) as f32 * 0.618).fract()).collect();
    let mut u = Tensor::<3>::from_data(TensorData::new(start, [n, size, 1]), &gram.device());
    let (power, iterations) = if size <= SQUARED_UP_TO {
        let mut power = gram;
        for _ in 0..SQUARINGS {
            let squared = power.clone().matmul(power);
            // Scaled to a largest entry of 1, which keeps the powers within f32's range.
            power = squared.clone() / (squared.abs().max_dim(2).max_dim(1) + 1e-30);
        }
        (power, ITERATIONS.div_ceil(1 << SQUARINGS))
    } else {
        (gram, ITERATIONS)
    };
    for _ in 0..iterations {
        let next = power.clone().matmul(u);
        u = next.clone() / (next.powi_scalar(2).sum_dim(1).sqrt() + 1e-30);
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Rank-one activations: channel c at position p is a_p b_c, so the first principal
    /// component of the centred (positions x channels) matrix is (a - mean a) |b|, up to sign.
    fn rank_one(b: &[f32]) -> (Tensor<4>, Vec<f32>) {
        let a: Vec<f32> = (0..6).map(|p| [0.5, 3.0, 1.0, 4.0, 0.0, 2.0][p]).collect();
        let values = b.iter().flat_map(|bc| a.iter().map(move |ap| ap * bc)).collect();
        let tensor = Tensor::from_data(TensorData::new(values, [1, b.len(), 2, 3]), &Device::flex());
        let norm = b.iter().map(|v| v * v).sum::<f32>().sqrt();
        let mean = a.iter().sum::<f32>() / 6.0;
        (tensor, a.iter().map(|ap| (ap - mean) * norm).collect())
    }

    /// The first component of full-rank activations [1, C, H, W], by plain power iterations in
    /// f64 on the host, to compare the squared Gram matrix's with.
    fn by_power_iteration(values: &[f32], c: usize, positions: usize) -> Vec<f64> {
        let x = |p: usize, ch: usize| f64::from(values[ch * positions + p]);
        let means: Vec<f64> =
            (0..c).map(|ch| (0..positions).map(|p| x(p, ch)).sum::<f64>() / positions as f64).collect();
        let centred = |p: usize, ch: usize| x(p, ch) - means[ch];
        let mut v = vec![1.0; c];
        for _ in 0..5000 {
            // v <- X^T X v, normalised.
            let xv: Vec<f64> = (0..positions).map(|p| (0..c).map(|ch| centred(p, ch) * v[ch]).sum()).collect();
            v = (0..c).map(|ch| (0..positions).map(|p| centred(p, ch) * xv[p]).sum()).collect();
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter_mut().for_each(|a| *a /= norm);
        }
        (0..positions).map(|p| (0..c).map(|ch| centred(p, ch) * v[ch]).sum()).collect()
    }

    #[test]
    fn either_gram_matrix_gives_the_first_component() {
        // Fewer channels than positions (X^T X), then more (X X^T, squared: under 256).
        for c in [12, 48] {
            let (h, w) = (5, 7);
            let values: Vec<f32> =
                (0..c * h * w).map(|i| ((i as f32 * 0.37).sin() * 3.0 + (i % 7) as f32 * 0.2).max(0.0)).collect();
            let activations = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, c, h, w]), &Device::flex());
            let projection: Vec<f32> = first_component(activations).into_data().try_to_vec().unwrap();
            let expected = by_power_iteration(&values, c, h * w);
            let scale = expected.iter().map(|v| v.abs()).fold(0.0, f64::max);
            // Up to the sign, which the reference leaves arbitrary.
            let sign = if projection.iter().zip(&expected).map(|(a, b)| f64::from(*a) * b).sum::<f64>() < 0.0 {
                -1.0
            } else {
                1.0
            };
            for (got, want) in projection.iter().zip(&expected) {
                assert!(
                    (sign * f64::from(*got) - want).abs() < 1e-4 * scale,
                    "{c}: {projection:?} against {expected:?}"
                );
            }
        }
    }

    #[test]
    fn the_component_points_the_way_of_the_channel_sum() {
        // Positive channels: the sum rises with a, so the projection must too.
        let (activations, expected) = rank_one(&[1.0, 2.0, 0.5]);
        let projection: Vec<f32> = first_component(activations).into_data().try_to_vec().unwrap();
        for (got, want) in projection.iter().zip(&expected) {
            assert!((got - want).abs() < 1e-3, "{projection:?} against {expected:?}");
        }
        // Negated channels: the sum falls as a rises, so the projection flips with it.
        let (activations, expected) = rank_one(&[-1.0, -2.0, -0.5]);
        let projection: Vec<f32> = first_component(activations).into_data().try_to_vec().unwrap();
        for (got, want) in projection.iter().zip(&expected) {
            assert!((got + want).abs() < 1e-3, "{projection:?} against minus {expected:?}");
        }
    }
}
