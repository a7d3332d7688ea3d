//! Non-negative matrix factorisation, A ~ W H, by Lee & Seung's multiplicative updates
//! ("Algorithms for Non-negative Matrix Factorization", NIPS 2000, eq. 4), on the host.
//!
//! DFF's matrix is small (2048 channels x 49 positions a photo) and each update is two thin
//! products. On a GPU an iteration was a dozen kernels, each bound by its launch; on flex the
//! thin products ran on one core well below its peak (docs/benchmarks.md has the numbers).
//! Here the channels go eight at a time, so that the loops vectorise (AVX through `pulp`'s
//! runtime dispatch, or wasm SIMD: see `lanes`), and k is a compile-time constant, so that the
//! sums over the factors stay in registers.

mod lanes;

use lanes::Lanes;

/// Channels handled together: one AVX register of f32.
const LANES: usize = 8;
const ZERO: Lanes = Lanes::ZERO;

/// Denominator guard of the multiplicative updates.
const EPSILON: f32 = 1e-10;

/// Factor entries below this are set to zero. On their way to zero, the multiplicative updates
/// take entries into f32's subnormal range, where every operation costs the CPU a microcode
/// assist, which made DFF's iterations markedly slower on real activations (docs/benchmarks.md).
/// At f32's precision such entries never change a sum of the factors' entries, which are of the
/// order of 0.1.
const FLUSH_BELOW: f32 = 1e-20;

/// scikit-learn checks the error every 10 iterations.
const CHECK_EVERY: usize = 10;

/// A non-negative `[channels, positions]` matrix stored by groups of `LANES` (eight) channels:
/// `groups[g * positions + p]` holds channels 8g..8g+8 at position p, zero past the last channel
/// (a zero channel keeps a zero row of W and adds nothing to any product).
pub struct Matrix {
    channels: usize,
    positions: usize,
    groups: Vec<Lanes>,
}

impl Matrix {
    pub fn from_fn(channels: usize, positions: usize, value: impl Fn(usize, usize) -> f32) -> Self {
        let mut groups = vec![ZERO; channels.div_ceil(LANES) * positions];
        for c in 0..channels {
            for p in 0..positions {
                groups[c / LANES * positions + p].as_mut_array()[c % LANES] = value(c, p);
            }
        }
        Self { channels, positions, groups }
    }

    /// The channel groups, each [positions].
    fn groups(&self) -> std::slice::ChunksExact<'_, Lanes> {
        self.groups.chunks_exact(self.positions)
    }

    fn squared_norm(&self) -> f64 {
        self.groups.iter().flat_map(Lanes::as_array).map(|&v| f64::from(v) * f64::from(v)).sum()
    }

    fn mean(&self) -> f64 {
        self.groups.iter().flat_map(Lanes::as_array).map(|&v| f64::from(v)).sum::<f64>()
            / (self.channels * self.positions) as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Number of factors, in [`K_RANGE`].
    pub k: usize,
    pub max_iterations: usize,
    /// Stop when the error improved by less than this fraction of the initial error over the
    /// last check (checked every 10 iterations, as scikit-learn).
    pub tolerance: f32,
    pub seed: u64,
}

/// scikit-learn's defaults, with pytorch-grad-cam's five concepts.
impl Default for Options {
    fn default() -> Self {
        Self { k: 5, max_iterations: 200, tolerance: 1e-4, seed: 0 }
    }
}

/// Valid numbers of factors (one compiled instance each).
pub const K_RANGE: std::ops::RangeInclusive<usize> = 1..=16;

pub struct Factors {
    /// W transposed, [k, channels]: row t is factor t's channel vector.
    pub w_t: Vec<f32>,
    /// H, [k, positions].
    pub h: Vec<f32>,
    /// ||A - W H||_F / ||A||_F.
    pub rel_error: f32,
    pub iterations: usize,
}

/// SplitMix64: a seeded, portable generator so a share link gives the same factors everywhere.
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

/// Factorises `a` into `options.k` factors; `None` if k is outside [`K_RANGE`].
pub fn factorize(a: &Matrix, options: Options) -> Option<Factors> {
    macro_rules! for_each_k {
        ($($k:literal)*) => {
            match options.k {
                $($k => Some(factorize_k::<$k>(a, options)),)*
                _ => None,
            }
        };
    }
    for_each_k!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// W by channel group: `w[g][t]` is factor t on channels 8g..8g+8.
type W<const K: usize> = Vec<[Lanes; K]>;
/// H transposed: `h[p][t]` is factor t at position p.
type H<const K: usize> = Vec<[f32; K]>;

fn factorize_k<const K: usize>(a: &Matrix, options: Options) -> Factors {
    let (channels, positions) = (a.channels, a.positions);
    // scikit-learn's 'random' init: |N(0,1)| scaled by sqrt(mean(A) / k); W [C, k] is drawn
    // first, then H [k, P], both row by row.
    let scale = (a.mean() / K as f64).sqrt() as f32;
    let mut rng = SplitMix64(options.seed);
    let mut w: W<K> = vec![[ZERO; K]; channels.div_ceil(LANES)];
    for c in 0..channels {
        for factor in &mut w[c / LANES] {
            factor.as_mut_array()[c % LANES] = rng.abs_normal() * scale;
        }
    }
    let mut h: H<K> = vec![[0.0; K]; positions];
    for t in 0..K {
        for position in &mut h {
            position[t] = rng.abs_normal() * scale;
        }
    }

    let arch = pulp::Arch::new();
    let norm_squared = a.squared_norm();
    let initial = arch.dispatch(ResidualSquared { a, w: &w, h: &h }).sqrt();
    let mut previous = initial;
    let mut iterations = 0;
    let mut hht = gram(&h);
    while iterations < options.max_iterations {
        iterations += 1;
        // scikit-learn's order: W, then H.
        let (wta, wtw) = arch.dispatch(UpdateW { a, w: &mut w, h: &h, hht: &hht });
        update_h(&mut h, &wta, &wtw);
        hht = gram(&h);
        if iterations % CHECK_EVERY == 0 {
            // ||A - W H||^2 = ||A||^2 - 2 <H, W^T A> + <W^T W, H H^T>, from the products at hand:
            // the residual would cost another pass over A.
            let cross: f64 =
                h.iter().flatten().zip(wta.iter().flatten()).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let fit: f64 =
                wtw.iter().flatten().zip(hht.iter().flatten()).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let error = (norm_squared - 2.0 * cross + fit).max(0.0).sqrt();
            if (previous - error) / initial < f64::from(options.tolerance) {
                break;
            }
            previous = error;
        }
    }
    // The reported error from the residual itself: near zero, the identity above loses digits.
    let residual = arch.dispatch(ResidualSquared { a, w: &w, h: &h }).sqrt();
    Factors {
        w_t: (0..K * channels)
            .map(|i| w[i % channels / LANES][i / channels].as_array()[i % channels % LANES])
            .collect(),
        h: (0..K * positions).map(|i| h[i % positions][i / positions]).collect(),
        rel_error: (residual / norm_squared.sqrt().max(f64::MIN_POSITIVE)) as f32,
        iterations,
    }
}

/// H H^T.
fn gram<const K: usize>(h: &H<K>) -> [[f32; K]; K] {
    std::array::from_fn(|t| std::array::from_fn(|s| h.iter().map(|h| h[t] * h[s]).sum()))
}

/// H <- H * (W^T A) / (W^T W H + eps), with W^T A by position.
fn update_h<const K: usize>(h: &mut H<K>, wta: &H<K>, wtw: &[[f32; K]; K]) {
    for (h, wta) in h.iter_mut().zip(wta) {
        let old = *h;
        for t in 0..K {
            let denominator: f32 = (0..K).map(|s| wtw[t][s] * old[s]).sum();
            h[t] = flushed(h[t] * wta[t] / (denominator + EPSILON));
        }
    }
}

#[inline(always)]
fn flushed(value: f32) -> f32 {
    if value < FLUSH_BELOW {
        0.0
    } else {
        value
    }
}

#[inline(always)]
fn add_product(sum: Lanes, x: Lanes, y: Lanes) -> Lanes {
    sum + x * y
}

#[inline(always)]
fn add_scaled(sum: Lanes, scale: f32, x: Lanes) -> Lanes {
    sum + Lanes::splat(scale) * x
}

/// Channel groups taken together: a block of A (8 groups x 49 positions x 32 bytes) stays in the
/// L1 cache from the W update to W^T A.
const BLOCK: usize = 8;

/// W <- W * (A H^T) / (W H H^T + eps), then W^T A (by position) and W^T W of the new W for the
/// H update. A `pulp` operation, so that the loops are compiled for the CPU's vector units.
struct UpdateW<'a, const K: usize> {
    a: &'a Matrix,
    w: &'a mut W<K>,
    h: &'a H<K>,
    hht: &'a [[f32; K]; K],
}

impl<const K: usize> pulp::WithSimd for UpdateW<'_, K> {
    type Output = (H<K>, [[f32; K]; K]);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Self::Output {
        let Self { a, w, h, hht } = self;
        let positions = a.positions;
        // W^T A by position, in lanes: summed across lanes at the end.
        let mut wta = vec![[ZERO; K]; positions];
        for (w, block) in w.chunks_mut(BLOCK).zip(a.groups.chunks(BLOCK * positions)) {
            for (w, column) in w.iter_mut().zip(block.chunks_exact(positions)) {
                let mut aht = [ZERO; K];
                for (value, h) in column.iter().zip(h) {
                    for t in 0..K {
                        aht[t] = add_scaled(aht[t], h[t], *value);
                    }
                }
                let old = *w;
                for t in 0..K {
                    let mut whht = ZERO;
                    for s in 0..K {
                        whht = add_scaled(whht, hht[t][s], old[s]);
                    }
                    w[t] = Lanes::new((old[t] * aht[t] / (whht + Lanes::splat(EPSILON))).to_array().map(flushed));
                }
            }
            // The block's W^T A, one position at a time so that its k sums stay in registers.
            for (p, wta) in wta.iter_mut().enumerate() {
                let mut sums = [ZERO; K];
                for (w, column) in w.iter().zip(block.chunks_exact(positions)) {
                    for t in 0..K {
                        sums[t] = add_product(sums[t], w[t], column[p]);
                    }
                }
                for t in 0..K {
                    wta[t] += sums[t];
                }
            }
        }
        let mut wtw = [[ZERO; K]; K];
        for w in w.iter() {
            for t in 0..K {
                for s in 0..K {
                    wtw[t][s] = add_product(wtw[t][s], w[t], w[s]);
                }
            }
        }
        let total = |sums: [Lanes; K]| sums.map(Lanes::reduce_add);
        (wta.into_iter().map(total).collect(), wtw.map(total))
    }
}

/// ||A - W H||_F^2.
struct ResidualSquared<'a, const K: usize> {
    a: &'a Matrix,
    w: &'a W<K>,
    h: &'a H<K>,
}

impl<const K: usize> pulp::WithSimd for ResidualSquared<'_, K> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        let Self { a, w, h } = self;
        let mut sum = 0.0;
        for (w, column) in w.iter().zip(a.groups()) {
            let mut squares = ZERO;
            for (value, h) in column.iter().zip(h) {
                let mut difference = *value;
                for t in 0..K {
                    difference = add_scaled(difference, -h[t], w[t]);
                }
                squares = add_product(squares, difference, difference);
            }
            sum += squares.as_array().iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exactly_low_rank_matrix() {
        // A = W H with non-negative rank-2 factors, 11 channels (a group and a partial one).
        let w = |c: usize, t: usize| ((c * 7 + t * 3) % 5) as f32 * 0.5;
        let h = |t: usize, p: usize| ((t * 5 + p * 2) % 3) as f32 + 0.25;
        let a = Matrix::from_fn(11, 4, |c, p| (0..2).map(|t| w(c, t) * h(t, p)).sum());
        // Every iteration runs: this checks the updates, not when they stop.
        let options = Options { k: 2, max_iterations: 2000, tolerance: f32::NEG_INFINITY, seed: 7 };
        let factors = factorize(&a, options).unwrap();
        assert!(factors.rel_error < 1e-3, "relative error {}", factors.rel_error);
        assert_eq!((factors.w_t.len(), factors.h.len(), factors.iterations), (22, 8, 2000));
    }

    #[test]
    fn every_k_in_range_runs() {
        let a = Matrix::from_fn(20, 6, |c, p| ((c * 13 + p * 7) % 11) as f32);
        for k in K_RANGE {
            let factors = factorize(&a, Options { k, max_iterations: 20, ..Options::default() }).unwrap();
            assert_eq!((factors.w_t.len(), factors.h.len()), (k * 20, k * 6));
            assert!(factors.rel_error < 1.0, "k = {k}: relative error {}", factors.rel_error);
        }
        assert!(factorize(&a, Options { k: 17, ..Options::default() }).is_none());
    }
}
