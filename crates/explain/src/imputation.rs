//! Noisy linear imputation (Rong et al., "A Consistent and Efficient Evaluation Strategy for
//! Attribution Methods", ICML 2022), as pytorch-grad-cam's `metrics/road.py` defines it: each
//! removed pixel is the weighted mean of its neighbours inside the image (1/6 for the four
//! beside it, 1/12 for the four diagonal), removed neighbours included. That is one sparse
//! linear system per channel, symmetric positive definite while any pixel is kept, so conjugate
//! gradients solve it without the sparse factorisation road.py calls; noise is added after.
//! Conjugate gradients are slow at the smooth part of the solution (hundreds of iterations at
//! 224 x 224), so each solve starts from the same image filled at half the resolution, and so
//! on down: each level then only refines what the coarser one could not see.

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

/// Relative residual at which a solve stops. ROAD's scores then agree with the exact solve's
/// (road.py's) to about 2e-4 (at 1e-5 to 2e-5, for 1.5x the time; at 1e-3 no longer to 1e-3).
const TOLERANCE: f64 = 1e-4;
/// Below this side a plane is solved from its kept pixels' mean, with no coarser level.
const COARSEST: usize = 8;

/// The removed pixels' system, M x = b with M = D - W: D the sum of each one's neighbour
/// weights, W the weights between removed neighbours. Its vectors hold a value for every cell
/// of the plane's grid padded by a ring of cells, 0 but at removed pixels, so that M is the
/// same eight-neighbour stencil at every cell: no index lists, and loops the compiler
/// vectorises.
struct System {
    /// Cells in a padded row.
    stride: usize,
    /// D at removed pixels, 0 elsewhere.
    diagonal: Vec<f64>,
    /// 1 / D at removed pixels, 0 elsewhere: the preconditioner.
    inverse: Vec<f64>,
    removed: usize,
}

/// A dot product in eight fixed lanes: the same sum every time, and vectorised.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    let tail = a.chunks_exact(8).remainder().iter().zip(b.chunks_exact(8).remainder()).map(|(a, b)| a * b);
    lanes.iter().sum::<f64>() + tail.sum::<f64>()
}

impl System {
    /// `out` = M `x`; `out` is 0 on the padding ring's first and last cells already.
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        let s = self.stride;
        // The cells from the first to the last with eight neighbours in the grid.
        let n = x.len() - 2 * (s + 1);
        let at = |offset: usize| &x[offset..offset + n];
        let (north_west, north, north_east) = (at(0), at(1), at(2));
        let (west, centre, east) = (at(s), at(s + 1), at(s + 2));
        let (south_west, south, south_east) = (at(2 * s), at(2 * s + 1), at(2 * s + 2));
        let diagonal = &self.diagonal[s + 1..s + 1 + n];
        for (i, out) in out[s + 1..s + 1 + n].iter_mut().enumerate() {
            let corners = north_west[i] + north_east[i] + south_west[i] + south_east[i];
            let sides = north[i] + south[i] + west[i] + east[i];
            let value = diagonal[i] * centre[i] - (corners * (1.0 / 12.0) + sides * (1.0 / 6.0));
            *out = if diagonal[i] > 0.0 { value } else { 0.0 };
        }
    }

    /// Jacobi-preconditioned conjugate gradients from `x`.
    fn solve(&self, b: &[f64], mut x: Vec<f64>) -> Vec<f64> {
        let mut q = vec![0.0; b.len()];
        self.apply(&x, &mut q);
        let mut r: Vec<f64> = b.iter().zip(&q).map(|(b, q)| b - q).collect();
        let mut z: Vec<f64> = r.iter().zip(&self.inverse).map(|(r, i)| r * i).collect();
        let mut p = z.clone();
        let mut rz = dot(&r, &z);
        let goal = (TOLERANCE * dot(b, b).sqrt()).powi(2);
        for _ in 0..10 * self.removed.max(1) {
            if dot(&r, &r) <= goal {
                break;
            }
            self.apply(&p, &mut q);
            let alpha = rz / dot(&p, &q);
            x.iter_mut().zip(&p).for_each(|(x, p)| *x += alpha * p);
            r.iter_mut().zip(&q).for_each(|(r, q)| *r -= alpha * q);
            z.iter_mut().zip(r.iter().zip(&self.inverse)).for_each(|(z, (r, i))| *z = r * i);
            let next = dot(&r, &z);
            let beta = next / rz;
            rz = next;
            p.iter_mut().zip(&z).for_each(|(p, z)| *p = z + beta * *p);
        }
        x
    }
}

/// Fills the removed pixels of one `plane` in place with the system's solution.
fn fill(plane: &mut [f64], height: usize, width: usize, keep: &[bool]) {
    let removed: Vec<usize> = (0..plane.len()).filter(|&p| !keep[p]).collect();
    if removed.is_empty() {
        return;
    }
    if removed.len() == plane.len() {
        // Nothing to impute from.
        return plane.fill(0.0);
    }
    if height < COARSEST || width < COARSEST {
        let kept = plane.iter().zip(keep).filter(|(_, k)| **k).map(|(v, _)| v);
        let mean = kept.clone().sum::<f64>() / kept.count() as f64;
        removed.iter().for_each(|&p| plane[p] = mean);
        return;
    }
    // The start: the plane at half the resolution (a block is kept if any of its pixels is,
    // with their mean), filled, and read back block by block.
    let (coarse_height, coarse_width) = (height.div_ceil(2), width.div_ceil(2));
    let (mut sums, mut counts) = (vec![0.0; coarse_height * coarse_width], vec![0usize; coarse_height * coarse_width]);
    for p in (0..plane.len()).filter(|&p| keep[p]) {
        let block = (p / width / 2) * coarse_width + p % width / 2;
        sums[block] += plane[p];
        counts[block] += 1;
    }
    let mut coarse: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 }).collect();
    let coarse_keep: Vec<bool> = counts.iter().map(|&c| c > 0).collect();
    fill(&mut coarse, coarse_height, coarse_width, &coarse_keep);

    let stride = width + 2;
    let cell = |p: usize| (p / width + 1) * stride + p % width + 1;
    let cells = (height + 2) * stride;
    let mut system = System { stride, diagonal: vec![0.0; cells], inverse: vec![0.0; cells], removed: removed.len() };
    // b: what the kept neighbours contribute; x: the coarse start.
    let (mut b, mut start) = (vec![0.0; cells], vec![0.0; cells]);
    for &p in &removed {
        let (y, x) = ((p / width) as isize, (p % width) as isize);
        let (mut sum, mut known) = (0.0, 0.0);
        for (dy, dx, weight) in NEIGHBOURS {
            let (ny, nx) = (y + dy, x + dx);
            if !(0..height as isize).contains(&ny) || !(0..width as isize).contains(&nx) {
                continue;
            }
            let q = ny as usize * width + nx as usize;
            sum += weight;
            if keep[q] {
                known += weight * plane[q];
            }
        }
        let c = cell(p);
        (system.diagonal[c], system.inverse[c], b[c]) = (sum, 1.0 / sum, known);
        start[c] = coarse[(p / width / 2) * coarse_width + p % width / 2];
    }
    let solution = system.solve(&b, start);
    removed.iter().for_each(|&p| plane[p] = solution[cell(p)]);
}

/// `image` ([channels, height, width], row-major) with every pixel where `keep` is false
/// imputed, plus Gaussian noise of standard deviation `noise` (the same for the same `seed`).
/// With nothing kept there is nothing to impute from, and the removed pixels become 0 and noise.
pub fn impute(image: &[f32], height: usize, width: usize, keep: &[bool], noise: f32, seed: u64) -> Vec<f32> {
    let pixels = height * width;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let gaussian = Normal::new(0.0, f64::from(noise)).expect("a finite, non-negative deviation");
    let mut out = Vec::with_capacity(image.len());
    for channel in image.chunks(pixels) {
        let mut plane: Vec<f64> = channel.iter().map(|&v| f64::from(v)).collect();
        fill(&mut plane, height, width, keep);
        for (p, value) in plane.into_iter().enumerate() {
            out.push(if keep[p] { channel[p] } else { (value + gaussian.sample(&mut rng)) as f32 });
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
        // The solve stops at a relative residual of 1e-4.
        for (a, b) in ramp.iter().zip(&filled) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
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
