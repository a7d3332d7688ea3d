//! Eight f32 that the NMF treats as one value (eight channels of a group), with element-wise
//! arithmetic that becomes vector instructions on each target:
//! - in the page's wasm, `wide`'s explicit SIMD128: the page is optimised at link time (LTO) at
//!   opt-level "z", and rustc runs LLVM's auto-vectorisers only at opt-levels 2 and 3;
//! - natively, a plain array: LLVM vectorises it for the AVX2 that `pulp` enables at run time.
//!   `wide` picks its instructions at compile time, for baseline x86-64, so it would use 128-bit
//!   halves, which made the NMF slower (docs/benchmarks.md).

#[cfg(target_arch = "wasm32")]
pub use wide::f32x8 as Lanes;

#[cfg(not(target_arch = "wasm32"))]
pub use native::Lanes;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::ops::{Add, AddAssign, Div, Mul};

    /// The subset of `wide::f32x8` that the NMF uses. Taken and returned by value: through
    /// references LLVM cannot rule out aliasing, and keeps the eight elements scalar.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Lanes([f32; 8]);

    impl Lanes {
        pub const ZERO: Self = Self([0.0; 8]);

        #[inline(always)]
        pub fn new(values: [f32; 8]) -> Self {
            Self(values)
        }

        #[inline(always)]
        pub fn splat(value: f32) -> Self {
            Self([value; 8])
        }

        #[inline(always)]
        pub fn to_array(self) -> [f32; 8] {
            self.0
        }

        pub fn as_array(&self) -> &[f32; 8] {
            &self.0
        }

        pub fn as_mut_array(&mut self) -> &mut [f32; 8] {
            &mut self.0
        }

        #[inline(always)]
        pub fn reduce_add(self) -> f32 {
            self.0.iter().sum()
        }
    }

    macro_rules! element_wise {
        ($($trait:ident $method:ident $op:tt),*) => {$(
            impl $trait for Lanes {
                type Output = Self;

                #[inline(always)]
                fn $method(self, other: Self) -> Self {
                    Self(std::array::from_fn(|i| self.0[i] $op other.0[i]))
                }
            }
        )*};
    }
    element_wise!(Add add +, Mul mul *, Div div /);

    impl AddAssign for Lanes {
        #[inline(always)]
        fn add_assign(&mut self, other: Self) {
            *self = *self + other;
        }
    }
}
