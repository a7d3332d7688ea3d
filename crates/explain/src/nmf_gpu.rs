//! DFF's NMF on the GPU, for matrices large enough to pay for it (many photos: the folder audit's
//! classes, multi-photo DFF). The same multiplicative updates as `xai_nmf` on the host, from the
//! same initial factors, with the same stopping rule; two kernels an iteration, each updating one
//! factor in full: through burn's operations an iteration was a dozen kernels, each bound by its
//! launch (docs/benchmarks.md).
//!
//! Each kernel also leaves the Gram matrix of the factor it updated as per-cube partial sums,
//! which the other kernel adds up as it starts: no kernel needs another launch to finish a
//! reduction. A is `[positions, channels]`, row-major; W is kept as W^T `[k, channels]` and H as
//! `[k, positions]`, so that neighbouring units read neighbouring channels or positions.

use burn::backend::Cube;
use burn::tensor::{Tensor, TensorData};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::client::Client;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::cubecl::server::Handle;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use xai_nmf::{error_from_products, initial_factors, Factors, Options, Progress, CHECK_EVERY, EPSILON, FLUSH_BELOW};

use crate::readback::{read_floats, ReadbackError};

/// Units of a cube along its x axis: channels in the W update, the channels summed for one
/// position in the H update. A warp (or wave) of neighbouring addresses.
const LANES: usize = 32;
/// Units along y for k factors: slices of the positions in the W update, positions at a time in
/// the H update. As many as the cube's k sums a unit fit in 8 KB of shared memory (WebGPU
/// guarantees 16 KB), at most 8: WebGPU guarantees 256 units a cube, and browsers give no more
/// (Chromium refused 32 x 12 = 384). More warps a cube would hide more of the loads' latency.
const fn rows(k: usize) -> usize {
    let rows = 2048 / (LANES * k);
    let most = 256 / LANES;
    if rows > most {
        most
    } else {
        rows
    }
}

/// Steps of `rows(k)` positions an H update cube takes, about 32 positions in all. Its Gram
/// matrix is one partial sum that every W update cube adds up, so fewer partials shorten that sum.
const fn h_steps(k: usize) -> usize {
    32_usize.div_ceil(rows(k))
}

/// W^T <- W^T * (H A) / (H H^T W^T + eps) for `LANES` channels a cube, then the cube's share of
/// the new W's Gram matrix W^T W in `w_grams[cube]`. H H^T comes as `h_cubes` partial sums.
#[cube(launch)]
fn update_w(
    a: &[f32],
    h: &[f32],
    w: &mut [f32],
    h_grams: &[f32],
    w_grams: &mut [f32],
    channels: usize,
    positions: usize,
    h_cubes: usize,
    #[comptime] k: usize,
) {
    let (x, y) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    let c = CUBE_POS_X as usize * LANES + x;
    let mut gram = Shared::<[f32]>::new_slice(k * k);
    add_parts(h_grams, h_cubes, &mut gram, k);

    // (H A)[t, c] over every rows-th position, then summed over the rows.
    let rows = comptime!(rows(k));
    let mut partial = Shared::<[f32]>::new_slice(rows * LANES * k);
    let count = select(c < channels, (positions + rows - 1 - y) / rows, 0usize);
    let mut sums = strided_products(a, y * channels + c, rows * channels, h, positions, y, rows, count, k);
    store_sums(&mut partial, &sums, y * LANES + x, k);

    // The new W, kept in shared memory for the Gram matrix (zero past the last channel).
    let mut fresh = Shared::<[f32]>::new_slice(LANES * k);
    if y == 0 {
        #[unroll]
        for t in 0..k {
            let mut total = 0.0;
            #[unroll]
            for row in 0..rows {
                total += partial[(row * LANES + x) * k + t];
            }
            sums[t] = total;
        }
        #[unroll]
        for t in 0..k {
            let mut updated = 0.0;
            if c < channels {
                let mut denominator = 0.0;
                #[unroll]
                for s in 0..k {
                    denominator += gram[t * k + s] * w[s * channels + c];
                }
                updated = flushed(w[t * channels + c] * sums[t] / (denominator + EPSILON));
            }
            fresh[x * k + t] = updated;
        }
        if c < channels {
            #[unroll]
            for t in 0..k {
                w[t * channels + c] = fresh[x * k + t];
            }
        }
    }
    sync_cube();
    store_gram(&fresh, LANES, w_grams, k);
}

/// H <- H * (W^T A) / (W^T W H + eps) for `h_steps(k)` x `rows(k)` positions a cube, `rows(k)` at a
/// time, then the cube's share of the new H's Gram matrix H H^T in `h_grams[cube]` and of
/// <H, W^T A> in `cross[cube]` (the error's identity, `xai_nmf::error_from_products`). W^T W
/// comes as `w_cubes` partial sums.
#[cube(launch)]
fn update_h(
    a: &[f32],
    w: &[f32],
    h: &mut [f32],
    w_grams: &[f32],
    h_grams: &mut [f32],
    cross: &mut [f32],
    channels: usize,
    positions: usize,
    w_cubes: usize,
    #[comptime] k: usize,
) {
    let (x, y) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    let mut gram = Shared::<[f32]>::new_slice(k * k);
    add_parts(w_grams, w_cubes, &mut gram, k);

    let (rows, steps) = comptime!((rows(k), h_steps(k)));
    let mut partial = Shared::<[f32]>::new_slice(rows * LANES * k);
    // The new H and its <H, W^T A> at each of the cube's positions (zero past the last one).
    let mut fresh = Shared::<[f32]>::new_slice(steps * rows * k);
    let mut products = Shared::<[f32]>::new_slice(steps * rows);
    for step in 0..steps {
        let row = step * rows + y;
        let p = CUBE_POS_X as usize * steps * rows + row;
        // W^T A at position p: the lanes split the channels, then their sums are added up.
        let count = select(p < positions, (channels + LANES - 1 - x) / LANES, 0usize);
        let sums = strided_products(a, p * channels + x, LANES, w, channels, x, LANES, count, k);
        store_sums(&mut partial, &sums, y * LANES + x, k);
        sum_lanes(&mut partial, k);

        if x == 0 {
            #[unroll]
            for t in 0..k {
                let mut updated = 0.0;
                if p < positions {
                    let mut denominator = 0.0;
                    #[unroll]
                    for s in 0..k {
                        denominator += gram[t * k + s] * h[s * positions + p];
                    }
                    updated = flushed(h[t * positions + p] * partial[y * LANES * k + t] / (denominator + EPSILON));
                }
                fresh[row * k + t] = updated;
            }
            let mut product = 0.0;
            #[unroll]
            for t in 0..k {
                product += fresh[row * k + t] * partial[y * LANES * k + t];
            }
            products[row] = product;
            if p < positions {
                #[unroll]
                for t in 0..k {
                    h[t * positions + p] = fresh[row * k + t];
                }
            }
        }
        sync_cube();
    }
    store_gram(&fresh, steps * rows, h_grams, k);
    if UNIT_POS == 0 {
        let mut total = 0.0;
        #[unroll]
        for row in 0..steps * rows {
            total += products[row];
        }
        cross[CUBE_POS_X as usize] = total;
    }
}

/// `count` products of a strided run of A with each factor's strided run: for t < k, the sum over
/// i of `a[a_first + i a_step] * factors[t * length + first + i step]`.
#[cube]
fn strided_products(
    a: &[f32],
    a_first: usize,
    a_step: usize,
    factors: &[f32],
    length: usize,
    first: usize,
    step: usize,
    count: usize,
    #[comptime] k: usize,
) -> Array<f32> {
    let mut sums = Array::<f32>::new(k);
    #[unroll]
    for t in 0..k {
        sums[t] = 0.0;
    }
    for i in 0..count {
        let value = a[a_first + i * a_step];
        #[unroll]
        for t in 0..k {
            sums[t] += value * factors[t * length + first + i * step];
        }
    }
    sums
}

/// A unit's k sums into its `slot` of `partial`, for the whole cube to read.
#[cube]
fn store_sums(partial: &mut Shared<[f32]>, sums: &Array<f32>, slot: usize, #[comptime] k: usize) {
    #[unroll]
    for t in 0..k {
        partial[slot * k + t] = sums[t];
    }
    sync_cube();
}

#[cube]
fn flushed(value: f32) -> f32 {
    select(value < FLUSH_BELOW, 0.0, value)
}

/// `gram` <- the sum of the `cubes` partial k x k Gram matrices in `parts`.
#[cube]
fn add_parts(parts: &[f32], cubes: usize, gram: &mut Shared<[f32]>, #[comptime] k: usize) {
    let mut entry = UNIT_POS as usize;
    while entry < k * k {
        let mut total = 0.0;
        for cube in 0..cubes {
            total += parts[cube * k * k + entry];
        }
        gram[entry] = total;
        entry += CUBE_DIM as usize;
    }
    sync_cube();
}

/// `grams[cube]` <- F^T F of this cube's `rows` rows of k values in `fresh`.
#[cube]
fn store_gram(fresh: &Shared<[f32]>, #[comptime] rows: usize, grams: &mut [f32], #[comptime] k: usize) {
    let mut entry = UNIT_POS as usize;
    while entry < k * k {
        let (t, s) = (entry / k, entry % k);
        let mut total = 0.0;
        #[unroll]
        for row in 0..rows {
            total += fresh[row * k + t] * fresh[row * k + s];
        }
        grams[CUBE_POS_X as usize * k * k + entry] = total;
        entry += CUBE_DIM as usize;
    }
}

/// Each row's `width` sums over its `LANES` lanes, into lane 0, by halves.
#[cube]
fn sum_lanes(partial: &mut Shared<[f32]>, #[comptime] width: usize) {
    add_half(partial, LANES / 2, width);
    add_half(partial, LANES / 4, width);
    add_half(partial, LANES / 8, width);
    add_half(partial, LANES / 16, width);
    add_half(partial, LANES / 32, width);
}

/// Lanes below `half` add the sums of the lane `half` above them.
#[cube]
fn add_half(partial: &mut Shared<[f32]>, #[comptime] half: usize, #[comptime] width: usize) {
    let (x, y) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    if x < half {
        #[unroll]
        for t in 0..width {
            let total = partial[(y * LANES + x) * width + t] + partial[(y * LANES + x + half) * width + t];
            partial[(y * LANES + x) * width + t] = total;
        }
    }
    sync_cube();
}

/// A `[positions, channels]` matrix on a cubecl device, with what the NMF needs of it.
pub(crate) struct DeviceMatrix {
    /// For the residual, through burn's operations (twice a factorisation).
    a: Tensor<2>,
    tensor: CubeTensor,
    channels: usize,
    positions: usize,
    mean: f64,
    squared_norm: f64,
}

impl DeviceMatrix {
    /// `a` (f32, `[positions, channels]`) if it lives on a cubecl device; `None` on the CPU.
    pub(crate) async fn new(a: Tensor<2>) -> Result<Option<Self>, ReadbackError> {
        let [positions, channels] = a.dims();
        let Ok(primitive) = a.clone().try_into_primitive::<Cube>() else { return Ok(None) };
        // With fusion, the tensor is a handle on a queue of operations: run them.
        #[cfg(feature = "wgpu")]
        let primitive = primitive.client.clone().resolve_tensor_float::<burn_cubecl::CubeBackend>(primitive);
        if primitive.dtype != burn::tensor::DType::F32 {
            return Ok(None);
        }
        let stats = read_floats(Tensor::cat(vec![a.clone().mean(), a.clone().square().sum()], 0)).await?;
        Ok(Some(Self {
            a,
            tensor: into_contiguous(primitive),
            channels,
            positions,
            mean: f64::from(stats[0]),
            squared_norm: f64::from(stats[1]),
        }))
    }
}

/// Factorises `a` on its device (k in `xai_nmf::K_RANGE`).
pub(crate) async fn factorize(a: &DeviceMatrix, options: Options) -> Result<Factors, ReadbackError> {
    let (w, h) = initial_factors(a.mean, a.channels, a.positions, options);
    let k = options.k;
    let w_t: Vec<f32> = (0..k * a.channels).map(|i| w[(i % a.channels) * k + i / a.channels]).collect();
    let factorization = Factorization::new(a, k, &w_t, &h);
    let initial = factorization.residual(&w_t, &h).await?;
    factorization.run(initial, options).await
}

/// The buffers of one factorisation and its launches.
struct Factorization<'a> {
    a: &'a DeviceMatrix,
    client: Client,
    k: usize,
    w: Handle,
    h: Handle,
    w_grams: Handle,
    h_grams: Handle,
    cross: Handle,
}

fn upload(client: &Client, values: &[f32]) -> Handle {
    client.create_from_slice(f32::as_bytes(values))
}

/// A kernel argument of `len` f32s.
fn arg(handle: &Handle, len: usize) -> BufferArg {
    // SAFETY: every buffer here holds `len` f32s: each is made for its matrix's shape and k.
    unsafe { BufferArg::from_raw_parts(handle.clone(), len) }
}

async fn read(client: &Client, handles: Vec<Handle>) -> Result<Vec<Vec<f32>>, ReadbackError> {
    let bytes = client.read_async(handles).await.map_err(|e| ReadbackError::from_message(&e.to_string()))?;
    Ok(bytes.iter().map(|b| f32::from_bytes(b).to_vec()).collect())
}

fn sum(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum()
}

/// Cubes of `update_w`: 32 channels each.
fn w_cubes(channels: usize) -> usize {
    channels.div_ceil(LANES)
}

/// Cubes of `update_h`: `h_steps(k)` x `rows(k)` positions each.
fn h_cubes(positions: usize, k: usize) -> usize {
    positions.div_ceil(h_steps(k) * rows(k))
}

impl<'a> Factorization<'a> {
    /// Buffers for `a`'s factorisation from W^T `w_t` and H `h`.
    fn new(a: &'a DeviceMatrix, k: usize, w_t: &[f32], h: &[f32]) -> Self {
        let (channels, positions) = (a.channels, a.positions);
        let client = a.tensor.client.clone();
        // The first W update's H H^T, as the first of the partial sums (the rest zero).
        let h_cubes = h_cubes(positions, k);
        let mut h_grams = vec![0.0; h_cubes * k * k];
        for t in 0..k {
            for s in 0..k {
                h_grams[t * k + s] = (0..positions).map(|p| h[t * positions + p] * h[s * positions + p]).sum();
            }
        }
        Self {
            w: upload(&client, w_t),
            h: upload(&client, h),
            w_grams: client.empty(w_cubes(channels) * k * k * 4),
            h_grams: upload(&client, &h_grams),
            cross: client.empty(h_cubes * 4),
            client,
            a,
            k,
        }
    }

    fn a_arg(&self) -> BufferArg {
        arg(&self.a.tensor.handle, self.a.positions * self.a.channels)
    }

    fn dim(&self) -> CubeDim {
        CubeDim::new_2d(LANES as u32, rows(self.k) as u32)
    }

    fn iterate(&self) {
        let (channels, positions, k) = (self.a.channels, self.a.positions, self.k);
        let (w_cubes, h_cubes) = (w_cubes(channels), h_cubes(positions, k));
        update_w::launch(
            &self.client,
            CubeCount::Static(w_cubes as u32, 1, 1),
            self.dim(),
            self.a_arg(),
            arg(&self.h, k * positions),
            arg(&self.w, k * channels),
            arg(&self.h_grams, h_cubes * k * k),
            arg(&self.w_grams, w_cubes * k * k),
            channels,
            positions,
            h_cubes,
            k,
        );
        update_h::launch(
            &self.client,
            CubeCount::Static(h_cubes as u32, 1, 1),
            self.dim(),
            self.a_arg(),
            arg(&self.w, k * channels),
            arg(&self.h, k * positions),
            arg(&self.w_grams, w_cubes * k * k),
            arg(&self.h_grams, h_cubes * k * k),
            arg(&self.cross, h_cubes),
            channels,
            positions,
            w_cubes,
            k,
        );
    }

    /// ||A - W H|| for factors on the host.
    async fn residual(&self, w_t: &[f32], h: &[f32]) -> Result<f64, ReadbackError> {
        let (a, k, device) = (&self.a, self.k, self.a.a.device());
        let w_t = Tensor::<2>::from_data(TensorData::new(w_t.to_vec(), [k, a.channels]), &device);
        let h = Tensor::<2>::from_data(TensorData::new(h.to_vec(), [k, a.positions]), &device);
        let squares = (a.a.clone() - h.transpose().matmul(w_t)).square().sum();
        Ok(f64::from(read_floats(squares).await?[0]).sqrt())
    }

    /// The error's identity from the last iteration's partial sums.
    async fn error(&self) -> Result<f64, ReadbackError> {
        let parts = read(&self.client, vec![self.w_grams.clone(), self.h_grams.clone(), self.cross.clone()]).await?;
        let k2 = self.k * self.k;
        let totals = |parts: &[f32]| -> Vec<f64> {
            (0..k2).map(|e| parts.iter().skip(e).step_by(k2).map(|&v| f64::from(v)).sum()).collect()
        };
        let (wtw, hht) = (totals(&parts[0]), totals(&parts[1]));
        let fit = wtw.iter().zip(&hht).map(|(x, y)| x * y).sum();
        Ok(error_from_products(self.a.squared_norm, sum(&parts[2]), fit))
    }

    async fn run(self, initial_error: f64, options: Options) -> Result<Factors, ReadbackError> {
        let mut progress = Progress::new(initial_error, options.tolerance);
        let mut iterations = 0;
        while iterations < options.max_iterations {
            iterations += 1;
            self.iterate();
            if iterations % CHECK_EVERY == 0 && progress.stalled(self.error().await?) {
                break;
            }
        }
        let mut factors = read(&self.client, vec![self.w.clone(), self.h.clone()]).await?;
        let h = factors.pop().expect("two buffers read");
        let w_t = factors.pop().expect("two buffers read");
        let residual = self.residual(&w_t, &h).await?;
        Ok(Factors {
            w_t,
            h,
            rel_error: (residual / self.a.squared_norm.sqrt().max(f64::MIN_POSITIVE)) as f32,
            iterations,
        })
    }
}
