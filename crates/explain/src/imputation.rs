//! Noisy linear imputation (Rong et al., "A Consistent and Efficient Evaluation Strategy for
//! Attribution Methods", ICML 2022), as pytorch-grad-cam's `metrics/road.py` defines it: each
//! removed pixel is the weighted mean of its neighbours inside the image (1/6 for the four
//! beside it, 1/12 for the four diagonal), removed neighbours included. That is one sparse
//! linear system per channel, symmetric positive definite while any pixel is kept, so conjugate
//! gradients solve it without the sparse factorisation road.py calls; noise is added after.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

const NEIGHBOURS: [(isize, isize, f64); 8] = [
    (1, 1, 1.0 / 12.0),
    (0, 1, 1.0 / 6.0),
    (-1, 1, 1.0 / 12.0),
    (1, -1, 1.0 / 12.0),
    (0, -1, 1.0 / 6.0),
    (-1, -1, 1.0 / 12.0),
    (1, 0, 1.0 / 6.0),
    (-1, 0, 1.0 / 6.0),
];

/// Relative residual at which a solve stops: far below what changes a probability.
const TOLERANCE: f64 = 1e-7;

/// The removed pixels' system, M x = b with M = D - W: D the sum of each one's neighbour
/// weights, W the weights between removed neighbours (rows in compressed form).
struct System {
    diagonal: Vec<f64>,
    starts: Vec<usize>,
    columns: Vec<usize>,
    weights: Vec<f64>,
}

impl System {
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        for (i, value) in out.iter_mut().enumerate() {
            let row = self.starts[i]..self.starts[i + 1];
            let off: f64 = self.columns[row.clone()].iter().zip(&self.weights[row]).map(|(&j, w)| w * x[j]).sum();
            *value = self.diagonal[i] * x[i] - off;
        }
    }

    /// Jacobi-preconditioned conjugate gradients from zero.
    fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = b.len();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let (mut x, mut r) = (vec![0.0; n], b.to_vec());
        let mut z: Vec<f64> = r.iter().zip(&self.diagonal).map(|(r, d)| r / d).collect();
        let mut p = z.clone();
        let mut rz = dot(&r, &z);
        let (goal, mut q) = ((TOLERANCE * dot(b, b).sqrt()).powi(2), vec![0.0; n]);
        for _ in 0..10 * n.max(1) {
            if dot(&r, &r) <= goal {
                break;
            }
            self.apply(&p, &mut q);
            let alpha = rz / dot(&p, &q);
            x.iter_mut().zip(&p).for_each(|(x, p)| *x += alpha * p);
            r.iter_mut().zip(&q).for_each(|(r, q)| *r -= alpha * q);
            z.iter_mut().zip(r.iter().zip(&self.diagonal)).for_each(|(z, (r, d))| *z = r / d);
            let next = dot(&r, &z);
            let beta = next / rz;
            rz = next;
            p.iter_mut().zip(&z).for_each(|(p, z)| *p = z + beta * *p);
        }
        x
    }
}

/// `image` ([channels, height, width], row-major) with every pixel where `keep` is false
/// imputed, plus Gaussian noise of standard deviation `noise` (the same for the same `seed`).
/// With nothing kept there is nothing to impute from, and the removed pixels become 0 and noise.
pub fn impute(image: &[f32], height: usize, width: usize, keep: &[bool], noise: f32, seed: u64) -> Vec<f32> {
    let pixels = height * width;
    let removed: Vec<usize> = (0..pixels).filter(|&p| !keep[p]).collect();
    let mut index = vec![usize::MAX; pixels];
    removed.iter().enumerate().for_each(|(i, &p)| index[p] = i);
    let inside = |p: usize, (dy, dx, _): (isize, isize, f64)| {
        let (y, x) = ((p / width) as isize + dy, (p % width) as isize + dx);
        (0..height as isize).contains(&y) && (0..width as isize).contains(&x)
    };
    let neighbour = |p: usize, (dy, dx, _): (isize, isize, f64)| (p as isize + dy * width as isize + dx) as usize;

    let mut system = System { diagonal: Vec::new(), starts: vec![0], columns: Vec::new(), weights: Vec::new() };
    for &p in &removed {
        let mut sum = 0.0;
        for offset in NEIGHBOURS.into_iter().filter(|&o| inside(p, o)) {
            sum += offset.2;
            let q = neighbour(p, offset);
            if !keep[q] {
                system.columns.push(index[q]);
                system.weights.push(offset.2);
            }
        }
        system.diagonal.push(sum);
        system.starts.push(system.columns.len());
    }

    let mut out = image.to_vec();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let gaussian = Normal::new(0.0, f64::from(noise)).expect("a finite, non-negative deviation");
    for channel in out.chunks_mut(pixels) {
        // b: what the kept neighbours contribute.
        let b: Vec<f64> = removed
            .iter()
            .map(|&p| {
                let known = NEIGHBOURS.into_iter().filter(|&o| inside(p, o)).map(|o| (neighbour(p, o), o.2));
                known.filter(|&(q, _)| keep[q]).map(|(q, w)| w * f64::from(channel[q])).sum()
            })
            .collect();
        let solution = if removed.len() < pixels { system.solve(&b) } else { vec![0.0; removed.len()] };
        for (&p, value) in removed.iter().zip(solution) {
            channel[p] = (value + gaussian.sample(&mut rng)) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linear_ramp_is_filled_with_itself() {
        // A plane is its neighbours' weighted mean, so removing any pixels off the border of a
        // ramp brings them back exactly.
        let (height, width) = (12, 16);
        let ramp: Vec<f32> =
            (0..height * width).map(|p| (p / width) as f32 * 0.5 - (p % width) as f32 * 0.25).collect();
        let keep: Vec<bool> =
            (0..height * width).map(|p| !(3..9).contains(&(p / width)) || !(4..12).contains(&(p % width))).collect();
        let filled = impute(&ramp, height, width, &keep, 0.0, 0);
        for (a, b) in ramp.iter().zip(&filled) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn noise_is_seeded_and_only_on_removed_pixels() {
        let image = vec![1.0f32; 2 * 8 * 8];
        let keep: Vec<bool> = (0..64).map(|p| p % 3 != 0).collect();
        let a = impute(&image, 8, 8, &keep, 0.01, 7);
        assert_eq!(a, impute(&image, 8, 8, &keep, 0.01, 7));
        assert_ne!(a, impute(&image, 8, 8, &keep, 0.01, 8));
        for (p, value) in a.iter().enumerate() {
            let kept = keep[p % 64];
            assert!(if kept { *value == 1.0 } else { (value - 1.0).abs() < 0.1 }, "{p}: {value}");
        }
    }
}
