//! An iteration's products on every core, natively (the browser's wasm has one thread), with
//! the same results as on one.

use pulp::Simd;
use rayon::prelude::*;

use crate::{Cores, Kernels, BLOCK, H, SUMS_IN_FLIGHT, W};

/// Multiply-adds of a product (channels x positions x factors) from which the iterations go over
/// every core: DFF's k = 5 on one photo of a ResNet-50, where on 2 cores every core took 1.9-2.0
/// ms against one's 2.2-2.6 (`xai bench --nmf-photos`, docs/benchmarks.md). Smaller products (a
/// ResNet-18's 512 channels, the audit's k = 3 on one photo) were not measured: they stay on one.
pub(crate) const FROM: usize = 2048 * 49 * 5;

/// Whether an iteration goes over every core: by size for [`Cores::Auto`].
pub(crate) fn pays(cores: Cores, multiply_adds: usize) -> bool {
    match cores {
        Cores::Auto => multiply_adds >= FROM && rayon::current_num_threads() > 1,
        Cores::One => false,
        Cores::Every => true,
    }
}

impl<S: Simd, const K: usize> Kernels<'_, S, K> {
    /// [`Self::update_w`] on every core, with the same results: first every block's W update
    /// (each channel group's needs only its own row of A), then W^T A by ranges of positions, each
    /// summed over the blocks in the same order as on one core. It reads A twice an iteration
    /// where one core reads each block once, so it pays only for larger matrices ([`pays`]).
    #[inline(always)]
    pub(crate) fn update_w_on_every_core(
        self,
        w: &mut W<S, K>,
        h: &H<K>,
        hht: &[[f32; K]; K],
    ) -> (H<K>, [[f32; K]; K]) {
        let (simd, positions) = (self.simd, self.positions);
        w.par_chunks_mut(BLOCK).zip(self.columns.par_chunks(BLOCK * positions)).for_each(|(w, block)| {
            simd.vectorize(UpdateRows { block: Kernels { columns: block, ..self }, w, h, hht });
        });
        let w: &W<S, K> = w;
        let range = positions.div_ceil(2 * rayon::current_num_threads()).next_multiple_of(2);
        let mut wta = vec![[0.0; K]; positions];
        wta.par_chunks_mut(range).enumerate().for_each(|(r, totals)| {
            simd.vectorize(AddWta { kernels: self, w, from: r * range, totals });
        });
        (wta, self.wtw(w))
    }
}

// The tasks as `pulp` operations, each compiled for the vector unit: rayon's tasks are closures,
// and a closure run through `Simd::vectorize` was not inlined into it, so that every vector
// operation in it became a call (10 to 20 times slower).

/// One block's W update.
struct UpdateRows<'a, S: Simd, const K: usize> {
    block: Kernels<'a, S, K>,
    w: &'a mut [[S::f32s; K]],
    h: &'a H<K>,
    hht: &'a [[f32; K]; K],
}

impl<S: Simd, const K: usize> pulp::WithSimd for UpdateRows<'_, S, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<T: Simd>(self, _: T) {
        let Self { block, w, h, hht } = self;
        if K < SUMS_IN_FLIGHT {
            block.update_rows::<2>(w, h, hht);
        } else {
            block.update_rows::<1>(w, h, hht);
        }
    }
}

/// W^T A at positions `from..from + totals.len()`, over every block.
struct AddWta<'a, S: Simd, const K: usize> {
    kernels: Kernels<'a, S, K>,
    w: &'a W<S, K>,
    from: usize,
    totals: &'a mut [[f32; K]],
}

impl<S: Simd, const K: usize> pulp::WithSimd for AddWta<'_, S, K> {
    type Output = ();

    #[inline(always)]
    fn with_simd<T: Simd>(self, _: T) {
        let Self { kernels, w, from, totals } = self;
        let mut wta = vec![[kernels.simd.splat_f32s(0.0); K]; totals.len()];
        for (w, block) in w.chunks(BLOCK).zip(kernels.columns.chunks(BLOCK * kernels.positions)) {
            let block = Kernels { columns: block, ..kernels };
            if K < SUMS_IN_FLIGHT {
                block.add_block_wta::<2>(w, from, &mut wta);
            } else {
                block.add_block_wta::<1>(w, from, &mut wta);
            }
        }
        for (total, sums) in totals.iter_mut().zip(wta) {
            *total = kernels.totals(sums);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{pays, FROM};
    use crate::{factorize, Cores, Factors, Matrix, Options};

    #[test]
    fn every_core_changes_nothing() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let bits = |f: &Factors| {
            let values = f.w_t.iter().chain(&f.h).chain([&f.rel_error]);
            (values.map(|v| v.to_bits()).collect::<Vec<_>>(), f.iterations)
        };
        // Partial vector groups, odd numbers of positions, both stream widths (k = 5 and 9): a
        // matrix large enough for `Auto` to put on every core, and one it keeps on one.
        for (positions, auto_on_every_core) in [(801, true), (25, false)] {
            let channels = 2043;
            assert_eq!(pool.install(|| pays(Cores::Auto, channels * positions * 5)), auto_on_every_core);
            assert_eq!(channels * positions * 5 >= FROM, auto_on_every_core);
            let a = Matrix::from_fn(channels, positions, |c, p| ((c * 13 + p * 7) % 11) as f32 + 0.5);
            for k in [5, 9] {
                let on = |cores| {
                    let options = Options { k, max_iterations: 30, tolerance: f32::NEG_INFINITY, seed: 1, cores };
                    pool.install(|| factorize(&a, options).unwrap())
                };
                let (one, every) = (on(Cores::One), on(Cores::Every));
                assert!(bits(&one) == bits(&every), "k = {k}, {positions} positions: every core gave other factors");
            }
        }
    }
}
