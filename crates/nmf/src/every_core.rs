//! An iteration's products on every core, natively (the browser's wasm has one thread), with
//! the same results as on one.

use pulp::Simd;
use rayon::prelude::*;

use crate::{Kernels, BLOCK, H, SUMS_IN_FLIGHT, W};

/// Multiply-adds of a product (channels x positions x factors) from which the iterations go over
/// every core: DFF's k = 5 on 16 photos. On 2 cores, below about 12 photos waking the threads
/// twice an iteration cost more than they saved (docs/benchmarks.md).
pub(crate) const FROM: usize = 2048 * 49 * 16 * 5;

pub(crate) fn pays(multiply_adds: usize) -> bool {
    multiply_adds >= FROM && rayon::current_num_threads() > 1
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
    use crate::{factorize, Matrix, Options};

    #[test]
    fn every_core_changes_nothing() {
        // Partial vector groups, an odd number of positions, both stream widths (k = 5 and 9),
        // and big enough that the threads do go to work.
        let (channels, positions) = (2043, 801);
        assert!(channels * positions * 5 >= super::FROM);
        let a = Matrix::from_fn(channels, positions, |c, p| ((c * 13 + p * 7) % 11) as f32 + 0.5);
        let on = |threads: usize, options: Options| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| factorize(&a, options).unwrap())
        };
        for k in [5, 9] {
            let options = Options { k, max_iterations: 30, tolerance: f32::NEG_INFINITY, seed: 1 };
            let (one, three) = (on(1, options), on(3, options));
            let bits = |f: &crate::Factors| {
                let values = f.w_t.iter().chain(&f.h).chain([&f.rel_error]);
                (values.map(|v| v.to_bits()).collect::<Vec<_>>(), f.iterations)
            };
            assert!(bits(&one) == bits(&three), "k = {k}: three threads gave other factors than one");
        }
    }
}
