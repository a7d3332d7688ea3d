//! A convolution on the host, for burn's CPU backend (flex). flex's own k x k convolution converts
//! the input to NHWC, builds its columns one index at a time, multiplies a tile of 512 pixels and
//! scatters the result; a layer3 or layer4 map is one tile, so one core. Here each tile of output
//! rows gets its columns as runs of plain copies, small enough to stay in a core's L2 cache, and
//! one `gemm` product writes them straight into the NCHW output. Tiles are spread over the cores,
//! and on small maps blocks of output channels too, so that layer4's 7 x 7 map keeps every core
//! busy (docs/benchmarks.md). A 1x1 convolution needs no columns: the product reads the input
//! itself (or every stride-th pixel of it). The bias, a residual and the ReLU are added to each
//! tile while it is in cache, instead of in passes of their own over the whole map.

/// A convolution's kernel size, stride and zero padding (the same on both axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Geometry {
    /// The output's height and width for an input of `h` x `w`.
    pub fn output(&self, h: usize, w: usize) -> (usize, usize) {
        let side = |s: usize| (s + 2 * self.padding - self.kernel) / self.stride + 1;
        (side(h), side(w))
    }
}

/// Floats in one tile's columns: 1 MB, about a core's L2 cache.
const TILE_FLOATS: usize = 1 << 18;

/// A convolution's weight (OIHW, row-major [out, C * k * k]), bias and geometry.
#[derive(Debug)]
pub struct Kernel {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub geometry: Geometry,
}

/// The convolution of the images `x` (row-major [N, C, H, W] of `shape`) with `kernel`, plus
/// `residual` if any (the shortcut of a residual block, laid out as the output), through a ReLU
/// if `relu`: row-major [N, out, OH, OW], and that shape.
pub fn convolve(
    x: &[f32],
    shape: [usize; 4],
    kernel: &Kernel,
    residual: Option<&[f32]>,
    relu: bool,
) -> (Vec<f32>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let Kernel { weight, bias, geometry } = kernel;
    let geometry = *geometry;
    let (out, depth) = (bias.len(), weight.len() / bias.len());
    let (oh, ow) = geometry.output(h, w);
    let pointwise = geometry.kernel == 1 && geometry.padding == 0;
    let phases: Vec<Phases> = match pointwise {
        true => Vec::new(),
        false => x.chunks_exact(c * h * w).map(|image| Phases::new(image, [c, h, w], geometry)).collect(),
    };

    let wanted = match threads() {
        1 => 1,
        cores => 2 * cores,
    };
    // A tile's columns must fit a core's L2 cache; a stride-1 1x1 copies none. A 1x1's map is
    // shared among the cores by rows (of at least 256 pixels, which still fill the product's
    // kernels) rather than by blocks of output channels, each of which would pack the same input.
    let cache_rows = (TILE_FLOATS / (depth * ow)).clamp(1, oh);
    let core_rows = oh.div_ceil(wanted.div_ceil(n)).max(256usize.div_ceil(ow));
    let tile_rows = match (pointwise, geometry.stride) {
        (true, 1) => core_rows.min(oh),
        (true, _) => core_rows.min(cache_rows),
        (false, _) => cache_rows,
    };
    let tiles = oh.div_ceil(tile_rows);
    // Too few tiles to keep the cores busy: split the output channels into blocks as well.
    let blocks = wanted.div_ceil((n * tiles).max(1)).clamp(1, out.div_ceil(16));
    let block = out.div_ceil(blocks);

    let mut output = Vec::with_capacity(n * out * oh * ow);
    let dst = SendPtr(output.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    let task = |cols: &mut Vec<f32>, index: usize| {
        let (image, tile, channels) = (index / (tiles * blocks), index / blocks % tiles, index % blocks);
        let rows = tile * tile_rows..((tile + 1) * tile_rows).min(oh);
        let first = channels * block;
        let channels = first..(first + block).min(out);
        let pixels = rows.len() * ow;
        let image_input = &x[image * c * h * w..][..c * h * w];
        // The product's right-hand side: `depth` rows of `pixels`, `row_stride` apart.
        let (rhs, row_stride) = match (pointwise, geometry.stride) {
            // A 1x1 convolution's columns are the input's own rows.
            (true, 1) => (image_input[rows.start * w..].as_ptr(), h * w),
            (true, stride) => {
                subsample(image_input, [h, w], rows.clone(), stride, ow, cols);
                (cols.as_ptr(), pixels)
            }
            (false, _) => {
                phases[image].columns(rows.clone(), geometry, ow, cols);
                (cols.as_ptr(), pixels)
            }
        };
        let at = (image * out + first) * oh * ow + rows.start * ow;
        // SAFETY: tasks write disjoint parts of the output (each its image, its output channels and
        // its rows); `weight` holds `out` rows of `depth` floats and `rhs` `depth` rows of
        // `pixels`, `row_stride` apart, as the strides say. Every element of the output is written
        // by one task (`read_dst` false), so the output is initialised when all tasks are done.
        unsafe {
            let dst = dst.get().add(at);
            gemm::gemm(
                channels.len(),
                pixels,
                depth,
                dst,
                1,
                (oh * ow) as isize,
                false,
                weight.as_ptr().add(first * depth),
                1,
                depth as isize,
                rhs,
                1,
                row_stride as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
            for (channel, &b) in channels.clone().zip(&bias[first..]) {
                let offset = (channel - first) * oh * ow;
                let row = std::slice::from_raw_parts_mut(dst.add(offset), pixels);
                match (residual.map(|r| &r[at + offset..][..pixels]), relu) {
                    (Some(r), true) => row.iter_mut().zip(r).for_each(|(v, r)| *v = (*v + b + r).max(0.0)),
                    (Some(r), false) => row.iter_mut().zip(r).for_each(|(v, r)| *v = *v + b + r),
                    (None, true) => row.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
                    (None, false) => row.iter_mut().for_each(|v| *v += b),
                }
            }
        }
    };
    let count = n * tiles * blocks;
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each_init(Vec::new, task);
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut cols = Vec::new();
        (0..count).for_each(|index| task(&mut cols, index));
    }
    // SAFETY: every element was written above.
    unsafe { output.set_len(n * out * oh * ow) };
    (output, [n, out, oh, ow])
}

fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(target_arch = "wasm32")]
    1
}

/// The output buffer, shared by the tasks that each write their own part of it.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);

// SAFETY: the tasks write disjoint parts (see `convolve`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Through a method, so that closures capture the whole (Sync) wrapper, not its field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Every `stride`-th pixel of every `stride`-th row of `rows` (output rows) of `image` [C, H, W]
/// into `cols`: row-major [C, rows * OW], a strided 1x1 convolution's columns.
fn subsample(
    image: &[f32],
    [h, w]: [usize; 2],
    rows: std::ops::Range<usize>,
    stride: usize,
    ow: usize,
    cols: &mut Vec<f32>,
) {
    cols.clear();
    // At once: grown a row at a time, the buffer was copied over at each doubling.
    cols.reserve(image.len() / (h * w) * rows.len() * ow);
    for plane in image.chunks_exact(h * w) {
        for oy in rows.clone() {
            cols.extend(plane[oy * stride * w..].iter().step_by(stride).take(ow));
        }
    }
}

/// One image, zero-padded and split into its stride x stride phases: phase (py, px) holds the
/// padded pixels (i * stride + py, j * stride + px), so that every kernel tap reads contiguous
/// runs of one phase, whatever the stride. Channel by channel, each channel's phases together.
struct Phases {
    values: Vec<f32>,
    channels: usize,
    /// A phase plane's height and width.
    size: (usize, usize),
}

impl Phases {
    fn new(image: &[f32], [c, h, w]: [usize; 3], geometry: Geometry) -> Self {
        let Geometry { stride, padding, .. } = geometry;
        let (ph, pw) = ((h + 2 * padding).div_ceil(stride), (w + 2 * padding).div_ceil(stride));
        let mut values = vec![0.0; c * stride * stride * ph * pw];
        let split = |(phases, plane): (&mut [f32], &[f32])| {
            for (y, pixels) in plane.chunks_exact(w).enumerate() {
                let (py, i) = ((y + padding) % stride, (y + padding) / stride);
                for px in 0..stride {
                    // This row's first pixel in phase px, and where it lands there.
                    let first = (px + stride - padding % stride) % stride;
                    let j = (first + padding) / stride;
                    let start = ((py * stride + px) * ph + i) * pw + j;
                    let row = &mut phases[start..start + (w - first).div_ceil(stride)];
                    row.iter_mut().zip(pixels[first..].iter().step_by(stride)).for_each(|(to, &from)| *to = from);
                }
            }
        };
        // Natively over every core: on one, it was the convolutions' largest part outside the tasks.
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            values.par_chunks_mut(stride * stride * ph * pw).zip(image.par_chunks_exact(h * w)).for_each(split);
        }
        #[cfg(target_arch = "wasm32")]
        values.chunks_mut(stride * stride * ph * pw).zip(image.chunks_exact(h * w)).for_each(split);
        Self { values, channels: c, size: (ph, pw) }
    }

    /// The columns of output rows `rows` into `cols`: row-major [C * k * k, rows * OW], rows in
    /// (c, ky, kx) order, as OIHW weights are.
    fn columns(&self, rows: std::ops::Range<usize>, geometry: Geometry, ow: usize, cols: &mut Vec<f32>) {
        let Geometry { kernel, stride, .. } = geometry;
        let (ph, pw) = self.size;
        cols.clear();
        // At once: grown a row at a time, the buffer was copied over at each doubling.
        cols.reserve(self.channels * kernel * kernel * rows.len() * ow);
        for ch in 0..self.channels {
            for ky in 0..kernel {
                for kx in 0..kernel {
                    let phase = ch * stride * stride + ky % stride * stride + kx % stride;
                    let plane = &self.values[phase * ph * pw..][..ph * pw];
                    for oy in rows.clone() {
                        let start = (oy + ky / stride) * pw + kx / stride;
                        cols.extend_from_slice(&plane[start..start + ow]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{convolve, Geometry, Kernel};

    /// The definition, one product at a time, in f64.
    fn naive(x: &[f32], [n, c, h, w]: [usize; 4], weight: &[f32], bias: &[f32], g: Geometry) -> Vec<f32> {
        let (oh, ow) = g.output(h, w);
        let k = g.kernel;
        let mut out = Vec::new();
        for b in 0..n {
            for (o, &bias) in bias.iter().enumerate() {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut sum = bias as f64;
                        for ch in 0..c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let y = (oy * g.stride + ky) as isize - g.padding as isize;
                                    let x_ = (ox * g.stride + kx) as isize - g.padding as isize;
                                    if (0..h as isize).contains(&y) && (0..w as isize).contains(&x_) {
                                        let input = x[((b * c + ch) * h + y as usize) * w + x_ as usize];
                                        sum += input as f64 * weight[((o * c + ch) * k + ky) * k + kx] as f64;
                                    }
                                }
                            }
                        }
                        out.push(sum as f32);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn convolutions_follow_the_definition() {
        // The stem (7x7, stride 2, padding 3), 3x3 "same", a strided 3x3 (torchvision's
        // bottlenecks), 1x1 plain and strided (Keras' downsampling), on odd sizes; enough output
        // channels and rows for several tiles and blocks. Then the same with a residual and a ReLU.
        let cases = [
            ([2, 3, 13, 11], 7, 2, 3, 40),
            ([1, 4, 5, 6], 3, 1, 1, 64),
            ([2, 2, 9, 7], 3, 2, 1, 17),
            ([1, 96, 40, 40], 3, 1, 1, 8),
            ([3, 24, 6, 5], 1, 1, 0, 48),
            ([2, 40, 9, 8], 1, 2, 0, 24),
            ([1, 8, 60, 60], 1, 1, 0, 100),
        ];
        for (shape, kernel, stride, padding, out) in cases {
            let g = Geometry { kernel, stride, padding };
            let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
            let weight: Vec<f32> =
                (0..out * shape[1] * kernel * kernel).map(|i| ((i * 104729) % 19) as f32 / 9.0 - 1.0).collect();
            let bias: Vec<f32> = (0..out).map(|o| o as f32 / 3.0).collect();
            let kernel = Kernel { weight, bias, geometry: g };
            let (ours, _) = convolve(&x, shape, &kernel, None, false);
            let reference = naive(&x, shape, &kernel.weight, &kernel.bias, g);
            assert_eq!(ours.len(), reference.len());
            let residual: Vec<f32> = (0..ours.len()).map(|i| ((i * 31) % 7) as f32 - 3.0).collect();
            let (rectified, _) = convolve(&x, shape, &kernel, Some(&residual), true);
            assert!(rectified.iter().zip(&ours).zip(&residual).all(|((r, o), s)| *r == (o + s).max(0.0)));
            for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
                assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{shape:?} {g:?}: {i}: {a} against {b}");
            }
        }
    }
}
