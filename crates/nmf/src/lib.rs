//! Non-negative matrix factorisation, A ~ W H, by Lee & Seung's multiplicative updates
//! ("Algorithms for Non-negative Matrix Factorization", NIPS 2000, eq. 4), on the host.
//!
//! DFF's matrix is small (2048 channels x 49 positions a photo) and each update is two thin
//! products. On a GPU an iteration was a dozen kernels, each bound by its launch; on flex the
//! thin products ran on one core well below its peak (docs/benchmarks.md has the numbers).
//! Here the channels go in groups as wide as a vector register of the CPU that `pulp` finds at
//! run time (AVX-512's 16 floats, AVX2's 8, NEON's or wasm SIMD's 4), in `pulp`'s vector types,
//! and k is a compile-time constant, so that the sums over the factors stay in registers. (Plain
//! arrays left the vectorising to LLVM, which for k >= 8 gave up and gathered scalars.)
//! Natively, many photos' iterations go over every core, with the same results (`every_core`).

use pulp::Simd;

#[cfg(not(target_arch = "wasm32"))]
mod every_core;

/// Denominator guard of the multiplicative updates.
pub const EPSILON: f32 = 1e-10;

/// Factor entries below this are set to zero. On their way to zero, the multiplicative updates
/// take entries into f32's subnormal range, where every operation costs the CPU a microcode
/// assist, which made DFF's iterations markedly slower on real activations (docs/benchmarks.md).
/// At f32's precision such entries never change a sum of the factors' entries, which are of the
/// order of 0.1.
pub const FLUSH_BELOW: f32 = 1e-20;

/// scikit-learn checks the error every 10 iterations.
pub const CHECK_EVERY: usize = 10;

/// A non-negative `[channels, positions]` matrix, row-major.
pub struct Matrix {
    channels: usize,
    positions: usize,
    values: Vec<f32>,
}

impl Matrix {
    pub fn from_fn(channels: usize, positions: usize, value: impl Fn(usize, usize) -> f32) -> Self {
        let values = (0..channels * positions).map(|i| value(i / positions, i % positions)).collect();
        Self { channels, positions, values }
    }

    fn squared_norm(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
    }

    fn mean(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v)).sum::<f64>() / self.values.len() as f64
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
    /// Which cores the iterations run on natively (the browser's wasm has one thread); the
    /// factors are the same on any number.
    pub cores: Cores,
}

/// scikit-learn's defaults, with pytorch-grad-cam's five concepts.
impl Default for Options {
    fn default() -> Self {
        Self { k: 5, max_iterations: 200, tolerance: 1e-4, seed: 0, cores: Cores::Auto }
    }
}

/// Where the host's iterations run. `One` and `Every` are for measuring where every core starts
/// to pay on a machine (`xai bench --nmf-photos`), which [`Cores::Auto`] decides by size.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Cores {
    /// Every core from one ResNet-50 photo's product at k = 5 (`every_core::FROM`), else one.
    #[default]
    Auto,
    One,
    Every,
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

/// scikit-learn's 'random' init: |N(0,1)| scaled by sqrt(mean(A) / k); W [channels, k] is drawn
/// first, then H [k, positions], both row by row. Returns them in that layout.
pub fn initial_factors(mean: f64, channels: usize, positions: usize, options: Options) -> (Vec<f32>, Vec<f32>) {
    let scale = (mean / options.k as f64).sqrt() as f32;
    let mut rng = SplitMix64(options.seed);
    let w = (0..channels * options.k).map(|_| rng.abs_normal() * scale).collect();
    let h = (0..options.k * positions).map(|_| rng.abs_normal() * scale).collect();
    (w, h)
}

/// scikit-learn's stopping rule: stop when the error improved by less than `tolerance` times the
/// initial error since the last check.
pub struct Progress {
    initial: f64,
    previous: f64,
    tolerance: f64,
}

impl Progress {
    pub fn new(initial_error: f64, tolerance: f32) -> Self {
        Self { initial: initial_error, previous: initial_error, tolerance: f64::from(tolerance) }
    }

    /// Whether to stop, given the error at this check.
    pub fn stalled(&mut self, error: f64) -> bool {
        if (self.previous - error) / self.initial < self.tolerance {
            return true;
        }
        self.previous = error;
        false
    }
}

/// ||A - W H|| = sqrt(||A||^2 - 2 <H, W^T A> + <W^T W, H H^T>), from products an iteration has at
/// hand: the residual would cost another pass over A. In f32 it cannot see errors below about
/// 1e-3 of ||A||, far below any DFF factorisation's; the reported error comes from the residual.
pub fn error_from_products(norm_squared: f64, cross: f64, fit: f64) -> f64 {
    (norm_squared - 2.0 * cross + fit).max(0.0).sqrt()
}

/// Factorises `a` into `options.k` factors; `None` if k is outside [`K_RANGE`].
pub fn factorize(a: &Matrix, options: Options) -> Option<Factors> {
    if !K_RANGE.contains(&options.k) {
        return None;
    }
    #[cfg(not(target_arch = "wasm32"))]
    if every_core::pays(options.cores, a.channels * a.positions * options.k) {
        // From a thread of rayon's own, each iteration's tasks start at once where the caller's
        // thread would hand them over and sleep until they are done.
        return Some(rayon::scope(|_| factorize_with(a, options, true)));
    }
    Some(factorize_with(a, options, false))
}

/// [`factorize`], its iterations on every core if `every_core`.
fn factorize_with(a: &Matrix, options: Options, every_core: bool) -> Factors {
    let arch = pulp::Arch::new();
    // The first instance with room for k factors runs; the rest of its factors stay zero.
    macro_rules! smallest_instance {
        ($($instance:literal)*) => {
            $(if options.k <= $instance {
                return arch.dispatch(Factorize::<$instance> { a, options, every_core });
            })*
        };
    }
    // Natively one instance per k. The page's wasm keeps five, each about 6 KB gzip of its
    // budget, with the common k (the audit's 3, DFF's default 5) exact: a padded k costs time in
    // proportion, but gives the very same factors (`padding_factors_changes_nothing`).
    #[cfg(not(target_arch = "wasm32"))]
    smallest_instance!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    #[cfg(target_arch = "wasm32")]
    smallest_instance!(3 5 8 12 16);
    unreachable!("K_RANGE ends at the last instance")
}

/// W by channel group: `w[g][t]` is factor t on group g's channels.
type W<S, const K: usize> = Vec<[<S as Simd>::f32s; K]>;
/// H transposed: `h[p][t]` is factor t at position p.
type H<const K: usize> = Vec<[f32; K]>;

/// The whole factorisation as one `pulp` operation, compiled for the CPU's vector unit: K
/// factors, of which the first `options.k` are drawn and returned. The others start at zero and
/// stay there (their products are zero, over denominators of at least EPSILON), adding exact
/// zeros to every sum.
struct Factorize<'a, const K: usize> {
    a: &'a Matrix,
    options: Options,
    every_core: bool,
}

impl<const K: usize> pulp::WithSimd for Factorize<'_, K> {
    type Output = Factors;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Factors {
        let Self { a, options, every_core } = self;
        let (channels, positions, lanes) = (a.channels, a.positions, S::F32_LANES);
        // A by groups of `lanes` channels: `columns[g * positions + p]` holds the group's channels
        // at position p, zero past the last channel (a zero channel keeps a zero row of W and adds
        // nothing to any product).
        let mut columns = vec![simd.splat_f32s(0.0); channels.div_ceil(lanes) * positions];
        let grouped: &mut [f32] = bytemuck::cast_slice_mut(&mut columns);
        for (c, row) in a.values.chunks_exact(positions).enumerate() {
            for (p, &value) in row.iter().enumerate() {
                grouped[(c / lanes * positions + p) * lanes + c % lanes] = value;
            }
        }
        let kernels = Kernels::<S, K> { simd, columns: &columns, positions };

        let k = options.k;
        let (w_start, h_start) = initial_factors(a.mean(), channels, positions, options);
        let mut w: W<S, K> = vec![[simd.splat_f32s(0.0); K]; channels.div_ceil(lanes)];
        let w_entry = |c: usize, t: usize| (c / lanes * K + t) * lanes + c % lanes;
        let entries: &mut [f32] = bytemuck::cast_slice_mut(w.as_flattened_mut());
        for (i, &value) in w_start.iter().enumerate() {
            entries[w_entry(i / k, i % k)] = value;
        }
        let start_h = |t: usize, p: usize| if t < k { h_start[t * positions + p] } else { 0.0 };
        let mut h: H<K> = (0..positions).map(|p| std::array::from_fn(|t| start_h(t, p))).collect();

        let norm_squared = a.squared_norm();
        let mut progress = Progress::new(kernels.residual_squared(&w, &h).sqrt(), options.tolerance);
        let mut iterations = 0;
        let mut hht = gram(&h);
        while iterations < options.max_iterations {
            iterations += 1;
            // scikit-learn's order: W, then H.
            let (wta, wtw) = kernels.update_w_on_cores(every_core, &mut w, &h, &hht);
            update_h(&mut h, &wta, &wtw);
            hht = gram(&h);
            if iterations % CHECK_EVERY == 0 {
                let cross: f64 =
                    h.iter().flatten().zip(wta.iter().flatten()).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
                let fit: f64 =
                    wtw.iter().flatten().zip(hht.iter().flatten()).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
                if progress.stalled(error_from_products(norm_squared, cross, fit)) {
                    break;
                }
            }
        }
        // The reported error from the residual itself: near zero, the identity above loses digits.
        let residual = kernels.residual_squared(&w, &h).sqrt();
        let entries: &[f32] = bytemuck::cast_slice(w.as_flattened());
        Factors {
            w_t: (0..k * channels).map(|i| entries[w_entry(i % channels, i / channels)]).collect(),
            h: (0..k * positions).map(|i| h[i % positions][i / positions]).collect(),
            rel_error: (residual / norm_squared.sqrt().max(f64::MIN_POSITIVE)) as f32,
            iterations,
        }
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

/// Channel groups taken together: a block of A (8 groups x 49 positions x up to 64 bytes) stays
/// in the L1 cache from the W update to W^T A.
const BLOCK: usize = 8;

/// Sums a vector unit needs in flight to stay busy: an FMA waits four cycles on the sum before
/// it, and two start every cycle. With k = 5 sums alone the units idled most of the time.
const SUMS_IN_FLIGHT: usize = 8;

/// The products over A, on one CPU's vector type.
#[derive(Clone, Copy)]
struct Kernels<'a, S: Simd, const K: usize> {
    simd: S,
    /// A by channel groups, each [positions].
    columns: &'a [S::f32s],
    positions: usize,
}

impl<S: Simd, const K: usize> Kernels<'_, S, K> {
    /// `sum + x * y`: one FMA where the CPU has it. wasm's only FMA is relaxed SIMD's, whose
    /// rounding differs between engines, and pulp's scalar fallback computes it in software:
    /// there a product and a sum.
    #[inline(always)]
    fn add_product(self, sum: S::f32s, x: S::f32s, y: S::f32s) -> S::f32s {
        if S::IS_SCALAR || cfg!(target_arch = "wasm32") {
            self.simd.add_f32s(self.simd.mul_f32s(x, y), sum)
        } else {
            self.simd.mul_add_f32s(x, y, sum)
        }
    }

    #[inline(always)]
    fn add_scaled(self, sum: S::f32s, scale: f32, x: S::f32s) -> S::f32s {
        self.add_product(sum, x, self.simd.splat_f32s(scale))
    }

    /// [`Self::update_w`], on every core if `every_core` (natively).
    #[inline(always)]
    fn update_w_on_cores(
        self,
        #[cfg_attr(target_arch = "wasm32", allow(unused_variables))] every_core: bool,
        w: &mut W<S, K>,
        h: &H<K>,
        hht: &[[f32; K]; K],
    ) -> (H<K>, [[f32; K]; K]) {
        #[cfg(not(target_arch = "wasm32"))]
        if every_core {
            return self.update_w_on_every_core(w, h, hht);
        }
        self.update_w(w, h, hht)
    }

    /// W <- W * (A H^T) / (W H H^T + eps), then W^T A (by position) and W^T W of the new W for
    /// the H update.
    #[inline(always)]
    fn update_w(self, w: &mut W<S, K>, h: &H<K>, hht: &[[f32; K]; K]) -> (H<K>, [[f32; K]; K]) {
        let zero = self.simd.splat_f32s(0.0);
        // W^T A by position, in lanes: summed across lanes at the end.
        let mut wta = vec![[zero; K]; self.positions];
        for (w, block) in w.chunks_mut(BLOCK).zip(self.columns.chunks(BLOCK * self.positions)) {
            let block = Kernels { columns: block, ..self };
            // For k below SUMS_IN_FLIGHT, the sums of two channel groups (or two positions) kept
            // apart: 2 (k + 1) vectors fit even AVX2's 16 registers. Each sum still adds its terms
            // in the same order, so the result does not change.
            if K < SUMS_IN_FLIGHT {
                block.update_block::<2>(w, h, hht, &mut wta);
            } else {
                block.update_block::<1>(w, h, hht, &mut wta);
            }
        }
        // Loops, not closures: a closure is not compiled for the vector unit, and the reductions'
        // intrinsics became calls in it.
        let mut wta_totals = Vec::with_capacity(self.positions);
        for sums in wta {
            wta_totals.push(self.totals(sums));
        }
        (wta_totals, self.wtw(w))
    }

    /// W^T W.
    #[inline(always)]
    fn wtw(self, w: &W<S, K>) -> [[f32; K]; K] {
        let mut wtw = [[self.simd.splat_f32s(0.0); K]; K];
        for w in w.iter() {
            for t in 0..K {
                for s in 0..K {
                    wtw[t][s] = self.add_product(wtw[t][s], w[t], w[s]);
                }
            }
        }
        let mut totals = [[0.0; K]; K];
        for (totals, sums) in totals.iter_mut().zip(wtw) {
            *totals = self.totals(sums);
        }
        totals
    }

    /// Each sum's lanes added up.
    #[inline(always)]
    fn totals(self, sums: [S::f32s; K]) -> [f32; K] {
        let mut totals = [0.0; K];
        for (total, sum) in totals.iter_mut().zip(sums) {
            *total = self.simd.reduce_sum_f32s(sum);
        }
        totals
    }

    /// One block's W update, then its share of W^T A, `N` channel groups or positions at a time.
    #[inline(always)]
    fn update_block<const N: usize>(
        self,
        w: &mut [[S::f32s; K]],
        h: &H<K>,
        hht: &[[f32; K]; K],
        wta: &mut [[S::f32s; K]],
    ) {
        self.update_rows::<N>(w, h, hht);
        self.add_block_wta::<N>(w, 0, wta);
    }

    /// One block's W update, `N` channel groups at a time.
    #[inline(always)]
    fn update_rows<const N: usize>(self, w: &mut [[S::f32s; K]], h: &H<K>, hht: &[[f32; K]; K]) {
        for (w, columns) in w.chunks_mut(N).zip(self.columns.chunks(N * self.positions)) {
            if w.len() == N {
                self.update_groups::<N>(w, columns, h, hht);
            } else {
                self.update_groups::<1>(w, columns, h, hht);
            }
        }
    }

    /// One block's share of W^T A at positions `from..from + wta.len()`, `N` positions at a time.
    /// Each position's sums run over the block's channel groups in order whatever the positions
    /// around it, so splitting the positions changes no result.
    #[inline(always)]
    fn add_block_wta<const N: usize>(self, w: &[[S::f32s; K]], from: usize, wta: &mut [[S::f32s; K]]) {
        let paired = wta.len() / N * N;
        for (q, wta) in wta[..paired].chunks_exact_mut(N).enumerate() {
            self.add_wta::<N>(w, from + q * N, wta);
        }
        for (q, wta) in wta[paired..].chunks_exact_mut(1).enumerate() {
            self.add_wta::<1>(w, from + paired + q, wta);
        }
    }

    /// W <- W * (A H^T) / (W H H^T + eps) on `N` channel groups, whose columns of A follow each
    /// other in `columns`.
    #[inline(always)]
    fn update_groups<const N: usize>(self, w: &mut [[S::f32s; K]], columns: &[S::f32s], h: &H<K>, hht: &[[f32; K]; K]) {
        let simd = self.simd;
        let positions = h.len();
        let columns: [&[S::f32s]; N] = std::array::from_fn(|g| &columns[g * positions..(g + 1) * positions]);
        let mut aht = [[simd.splat_f32s(0.0); K]; N];
        for (p, h) in h.iter().enumerate() {
            for g in 0..N {
                for t in 0..K {
                    aht[g][t] = self.add_scaled(aht[g][t], h[t], columns[g][p]);
                }
            }
        }
        let (epsilon, flush_below, zero) =
            (simd.splat_f32s(EPSILON), simd.splat_f32s(FLUSH_BELOW), simd.splat_f32s(0.0));
        for (w, aht) in w.iter_mut().zip(aht) {
            let old = *w;
            for t in 0..K {
                let mut whht = simd.splat_f32s(0.0);
                for s in 0..K {
                    whht = self.add_scaled(whht, hht[t][s], old[s]);
                }
                let updated = simd.div_f32s(simd.mul_f32s(old[t], aht[t]), simd.add_f32s(whht, epsilon));
                w[t] = simd.select_f32s(simd.less_than_f32s(updated, flush_below), zero, updated);
            }
        }
    }

    /// The block's W^T A at positions `first..first + N`, each position's k sums in registers.
    #[inline(always)]
    fn add_wta<const N: usize>(self, w: &[[S::f32s; K]], first: usize, wta: &mut [[S::f32s; K]]) {
        let mut sums = [[self.simd.splat_f32s(0.0); K]; N];
        for (w, column) in w.iter().zip(self.columns.chunks_exact(self.positions)) {
            let values = &column[first..first + N];
            for q in 0..N {
                for t in 0..K {
                    sums[q][t] = self.add_product(sums[q][t], w[t], values[q]);
                }
            }
        }
        for (wta, sums) in wta.iter_mut().zip(sums) {
            for t in 0..K {
                wta[t] = self.simd.add_f32s(wta[t], sums[t]);
            }
        }
    }

    /// ||A - W H||_F^2.
    #[inline(always)]
    fn residual_squared(self, w: &W<S, K>, h: &H<K>) -> f64 {
        let simd = self.simd;
        let mut sum = 0.0;
        for (w, column) in w.iter().zip(self.columns.chunks_exact(self.positions)) {
            let mut squares = simd.splat_f32s(0.0);
            for (value, h) in column.iter().zip(h) {
                let mut difference = *value;
                for t in 0..K {
                    difference = self.add_scaled(difference, -h[t], w[t]);
                }
                squares = self.add_product(squares, difference, difference);
            }
            let squares: &[f32] = bytemuck::cast_slice(std::slice::from_ref(&squares));
            sum += squares.iter().map(|&v| f64::from(v)).sum::<f64>();
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
        let options =
            Options { k: 2, max_iterations: 2000, tolerance: f32::NEG_INFINITY, seed: 7, ..Options::default() };
        let factors = factorize(&a, options).unwrap();
        assert!(factors.rel_error < 1e-3, "relative error {}", factors.rel_error);
        assert_eq!((factors.w_t.len(), factors.h.len(), factors.iterations), (22, 8, 2000));
    }

    #[test]
    fn two_streams_update_as_one_does() {
        // Five channel groups and seven positions: pairs and a single of each.
        let (groups, positions) = (5, 7);
        let columns: Vec<f32> = (0..groups * positions).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let kernels = Kernels::<_, 3> { simd: pulp::Scalar::new(), columns: &columns, positions };
        let w: Vec<[f32; 3]> = (0..groups).map(|g| [0.1 + g as f32 * 0.01, 0.2, 0.3]).collect();
        let h: H<3> = (0..positions).map(|p| [0.5, 0.1 * p as f32, 0.2]).collect();
        let hht = gram(&h);
        let update = |two_streams: bool| {
            let (mut w, mut wta) = (w.clone(), vec![[0.0; 3]; positions]);
            if two_streams {
                kernels.update_block::<2>(&mut w, &h, &hht, &mut wta);
            } else {
                kernels.update_block::<1>(&mut w, &h, &hht, &mut wta);
            }
            (w, wta)
        };
        assert_eq!(update(true), update(false));
    }

    #[test]
    fn padding_factors_changes_nothing() {
        // 37 channels (partial vector groups everywhere); the same stop too, as the errors the
        // stopping rule sees are the same.
        let a = Matrix::from_fn(37, 9, |c, p| ((c * 13 + p * 7) % 11) as f32 + 0.5);
        for k in [1, 3, 5] {
            let options = Options { k, seed: 3, ..Options::default() };
            let exact = factorize(&a, options).unwrap();
            let padded = pulp::Arch::new().dispatch(Factorize::<8> { a: &a, options, every_core: false });
            assert_eq!((padded.w_t, padded.h, padded.iterations), (exact.w_t, exact.h, exact.iterations));
            assert_eq!(padded.rel_error.to_bits(), exact.rel_error.to_bits());
        }
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
