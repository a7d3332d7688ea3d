//! The first principal component of each image's (positions x channels) activations, as
//! pytorch-grad-cam's `get_2d_projection` (centre the columns, project on the first right
//! singular vector), computed on the device so it runs on WebGPU too, where burn has no SVD.

use burn::tensor::{Tensor, TensorData};

/// Power iterations on the Gram matrix; each multiplies the error by lambda2 / lambda1.
const ITERATIONS: usize = 200;

/// Projections [N, H, W] of activations [N, C, H, W]. The projection X v1 equals sigma1 u1,
/// where u1 is the first eigenvector of the small Gram matrix X X^T (positions x positions).
/// The sign of a singular vector is arbitrary: we orient it to agree with the channel sum.
pub fn first_component(activations: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = activations.dims();
    let positions = h * w;
    let x = activations.reshape([n, c, positions]).swap_dims(1, 2);
    let centred = x.clone() - x.clone().mean_dim(1);
    let gram = centred.clone().matmul(centred.swap_dims(1, 2));
    // Columns are centred, so the all-ones vector lies in the Gram's null space: start elsewhere.
    let start: Vec<f32> = (0..n * positions).map(|i| 1.0 + ((i % positions) as f32 * 0.618).fract()).collect();
    let mut u = Tensor::<3>::from_data(TensorData::new(start, [n, positions, 1]), &x.device());
    for _ in 0..ITERATIONS {
        let next = gram.clone().matmul(u);
        u = next.clone() / (next.powi_scalar(2).sum_dim(1).sqrt() + 1e-30);
    }
    let gu = gram.matmul(u.clone());
    let sigma = (u.clone() * gu).sum_dim(1).clamp_min(0.0).sqrt();
    let projection = u * sigma;
    let channel_sum = x.sum_dim(2);
    let agreement = ((channel_sum.clone() - channel_sum.mean_dim(1)) * projection.clone()).sum_dim(1);
    let sign = agreement.clone().sign() + agreement.equal_elem(0.0).float();
    (projection * sign).reshape([n, h, w])
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
