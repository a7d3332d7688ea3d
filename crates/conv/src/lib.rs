//! A convolution on the host, for burn's CPU backend (flex). flex's own k x k convolution converts
//! the input to NHWC, builds its columns one index at a time, multiplies a tile of 512 pixels and
//! scatters the result; a layer3 or layer4 map is one tile, so one core. Here each tile of output
//! rows gets its columns as runs of plain copies, small enough to stay in a core's L2 cache, and
//! one `gemm` product writes them straight into the NCHW output. Tiles are spread over the cores,
//! and on small maps blocks of output channels too, so that layer4's 7 x 7 map keeps every core
//! busy (docs/benchmarks.md). A 1x1 convolution needs no columns: the product reads the input
//! itself (or every stride-th pixel of it). The bias, a residual and the ReLU are added to each
//! tile while it is in cache, instead of in passes of their own over the whole map. And the stem's
//! max pooling, which flex did a value at a time, keeping every maximum's index as well.

use std::mem::MaybeUninit;
use std::ops::Range;

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
    let columns = Columns::new(x, shape, geometry);

    let wanted = match threads() {
        1 => 1,
        cores => 2 * cores,
    };
    // A tile's columns must fit a core's L2 cache; a stride-1 1x1 copies none. A 1x1's map is
    // shared among the cores by rows (of at least 256 pixels, which still fill the product's
    // kernels) rather than by blocks of output channels, each of which would pack the same input.
    let cache_rows = (TILE_FLOATS / (depth * ow)).clamp(1, oh);
    let core_rows = oh.div_ceil(wanted.div_ceil(n.max(1))).max(256usize.div_ceil(ow));
    let tile_rows = match (pointwise, geometry.stride) {
        (true, 1) => core_rows.min(oh),
        (true, _) => core_rows.min(cache_rows),
        (false, _) => cache_rows,
    };
    let tiles = oh.div_ceil(tile_rows);
    let rows_of = |tile: usize| tile * tile_rows..((tile + 1) * tile_rows).min(oh);
    // Too few tiles to keep the cores busy: split the output channels into blocks as well, two
    // tasks a core. On trial (the `one-block-per-core` feature, for bench/gpu.sh's 16 cores): one,
    // packing a tile's columns half as often against a worse balance of the cores' loads.
    let block_tasks = if cfg!(feature = "one-block-per-core") { wanted.div_ceil(2) } else { wanted };
    let blocks = block_tasks.div_ceil((n * tiles).max(1)).clamp(1, out.div_ceil(16));
    let block = out.div_ceil(blocks);
    // Then a tile's blocks share its columns, made once beforehand by every core, instead of each
    // block copying them again (on 16 cores, 32 times layer4's).
    // gemm reads a narrow product's pixels in place (at most 48 output channels: 8 times its
    // AVX-512 kernel's 6) if their count is a multiple of its vector width, and copies ("packs")
    // them first otherwise. Each block would pack the shared columns again (with 16 threads,
    // layer4's 49 pixels 32 times a 3x3), so narrow blocks' columns are padded to 16 pixels, a
    // multiple of every CPU's width, and their products too, copied into place after.
    let padded = |pixels: usize| if block <= 48 { pixels.next_multiple_of(16) } else { pixels };
    let shared = match &columns {
        Some(columns) if blocks > 1 => columns.shared(n, tiles, &rows_of, &padded, blocks),
        _ => Vec::new(),
    };

    let mut output = Vec::with_capacity(n * out * oh * ow);
    let dst = SendPtr(output.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    let task = |(cols, padded_product): &mut (Vec<f32>, Vec<f32>), index: usize| {
        let (image, tile, channels) = (index / (tiles * blocks), index / blocks % tiles, index % blocks);
        let rows = rows_of(tile);
        let first = channels * block;
        let channels = first..(first + block).min(out);
        let pixels = rows.len() * ow;
        // The product's right-hand side: `depth` rows of `width` (its pixels, padded for shared
        // columns), `row_stride` apart.
        let (rhs, row_stride, width) = match &columns {
            // A stride-1 1x1 convolution's columns are the input's own rows.
            None => (x[image * c * h * w + rows.start * w..].as_ptr(), h * w, pixels),
            Some(_) if blocks > 1 => {
                let width = padded(pixels);
                (shared[image * tiles + tile].as_ptr(), width, width)
            }
            Some(columns) => {
                columns.fill(image, rows.clone(), cols);
                (cols.as_ptr(), pixels, pixels)
            }
        };
        let at = (image * out + first) * oh * ow + rows.start * ow;
        // SAFETY: tasks write disjoint parts of the output (each its image, its output channels and
        // its rows); `weight` holds `out` rows of `depth` floats and `rhs` `depth` rows of
        // `width`, `row_stride` apart, as the strides say; a padded product has a buffer of its
        // own. Every element of the output is written by one task (`read_dst` false), so the
        // output is initialised when all tasks are done.
        unsafe {
            let dst = dst.get().add(at);
            let (product, product_rows) = if width == pixels {
                (dst, oh * ow)
            } else {
                padded_product.resize(channels.len() * width, 0.0);
                (padded_product.as_mut_ptr(), width)
            };
            gemm::gemm(
                channels.len(),
                width,
                depth,
                product,
                1,
                product_rows as isize,
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
            if width != pixels {
                for (i, row) in padded_product.chunks_exact(width).enumerate() {
                    std::ptr::copy_nonoverlapping(row.as_ptr(), dst.add(i * oh * ow), pixels);
                }
            }
            for (channel, &b) in channels.clone().zip(&bias[first..]) {
                let offset = (channel - first) * oh * ow;
                let row = std::slice::from_raw_parts_mut(dst.add(offset), pixels);
                match (residual.map(|r| &r[at + offset..][..pixels]), relu) {
                    (Some(r), true) => row.iter_mut().zip(r).for_each(|(v, r)| *v = larger(0.0, *v + b + r)),
                    (Some(r), false) => row.iter_mut().zip(r).for_each(|(v, r)| *v = *v + b + r),
                    (None, true) => row.iter_mut().for_each(|v| *v = larger(0.0, *v + b)),
                    (None, false) => row.iter_mut().for_each(|v| *v += b),
                }
            }
        }
    };
    for_each_index(n * tiles * blocks, Default::default, task);
    // SAFETY: every element was written above.
    unsafe { output.set_len(n * out * oh * ow) };
    (output, [n, out, oh, ow])
}

/// Max pooling (the stem's): the largest value of each `kernel` x `kernel` window, `stride`
/// pixels apart, of the images `x` (row-major [N, C, H, W] of `shape`); the window reaches
/// `padding` pixels over the border, where it ignores what it does not cover, as burn's and
/// PyTorch's do. Row-major [N, C, OH, OW], and that shape. flex's own keeps the index of every
/// maximum too and compares one value at a time; here each output row is the maximum of its input
/// rows first (whole rows at once, which vectorise), then of each window's columns.
pub fn max_pool(x: &[f32], shape: [usize; 4], geometry: Geometry) -> (Vec<f32>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let Geometry { kernel, stride, padding } = geometry;
    let (oh, ow) = geometry.output(h, w);
    // The input pixels a window starting at output position `o` covers, along an axis of `size`.
    let window =
        |o: usize, size: usize| (o * stride).saturating_sub(padding)..(o * stride + kernel - padding).min(size);
    let mut output = Vec::with_capacity(n * c * oh * ow);
    let dst = SendPtr(output.spare_capacity_mut().as_mut_ptr().cast::<f32>());
    for_each_index(
        n * c,
        || vec![0.0; w],
        |rows_max: &mut Vec<f32>, plane| {
            let input = &x[plane * h * w..][..h * w];
            // SAFETY: each task writes its own plane of the output.
            let out = unsafe { std::slice::from_raw_parts_mut(dst.get().add(plane * oh * ow), oh * ow) };
            for (oy, out) in out.chunks_exact_mut(ow).enumerate() {
                let rows = window(oy, h);
                rows_max.fill(f32::NEG_INFINITY);
                for row in input[rows.start * w..rows.end * w].chunks_exact(w) {
                    rows_max.iter_mut().zip(row).for_each(|(m, &v)| *m = larger(*m, v));
                }
                for (ox, out) in out.iter_mut().enumerate() {
                    *out = rows_max[window(ox, w)].iter().copied().fold(f32::NEG_INFINITY, larger);
                }
            }
        },
    );
    // SAFETY: every plane was written above.
    unsafe { output.set_len(n * c * oh * ow) };
    (output, [n, c, oh, ow])
}

/// A shortcut that changes shape without weights (He et al.'s option A): every `stride`-th pixel
/// of the images `x` (row-major [N, C, H, W] of `shape`), with `before` channels of zeros in front
/// of its own and `after` behind. Row-major [N, before + C + after, OH, OW], and that shape.
pub fn zero_padded(x: &[f32], shape: [usize; 4], stride: usize, before: usize, after: usize) -> (Vec<f32>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
    let out_channels = before + c + after;
    let mut output = vec![0.0; n * out_channels * oh * ow];
    for (image, out) in output.chunks_exact_mut(out_channels * oh * ow).enumerate() {
        let planes = out[before * oh * ow..][..c * oh * ow].chunks_exact_mut(oh * ow);
        for (plane, out) in planes.enumerate() {
            let input = &x[(image * c + plane) * h * w..][..h * w];
            let rows = input.chunks_exact(w).step_by(stride);
            for (out, row) in out.chunks_exact_mut(ow).zip(rows) {
                out.iter_mut().zip(row.iter().step_by(stride)).for_each(|(o, v)| *o = *v);
            }
        }
    }
    (output, [n, out_channels, oh, ow])
}

/// Average pooling of `stride` x `stride` squares, `stride` pixels apart, in ceil mode (ResNet-D's
/// shortcut: timm's `AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)`): each
/// output pixel the mean of the pixels of its square inside the images `x` (row-major [N, C, H,
/// W] of `shape`), fewer where the border cuts it. Row-major [N, C, OH, OW], and that shape.
pub fn average_pooled(x: &[f32], shape: [usize; 4], stride: usize) -> (Vec<f32>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
    let mut output = Vec::with_capacity(n * c * oh * ow);
    let mut sums = vec![0.0; ow];
    for plane in x.chunks_exact(h * w) {
        for rows in plane.chunks(stride * w) {
            sums.fill(0.0);
            for row in rows.chunks_exact(w) {
                sums.iter_mut().zip(row.chunks(stride)).for_each(|(sum, square)| *sum += square.iter().sum::<f32>());
            }
            let height = rows.len() / w;
            let widths = (0..ow).map(|ox| stride.min(w - ox * stride));
            output.extend(sums.iter().zip(widths).map(|(sum, width)| sum / (height * width) as f32));
        }
    }
    (output, [n, c, oh, ow])
}

/// A BatchNorm alone then a ReLU (a pre-activation block's first): `max(0, scale[c] x + shift[c])`
/// for each value of channel c of the images `x` (row-major [N, C, H, W] of `shape`).
pub fn scaled_rectified(x: &[f32], shape: [usize; 4], scale: &[f32], shift: &[f32]) -> Vec<f32> {
    let [_, c, h, w] = shape;
    let planes = x.chunks_exact(h * w).enumerate();
    planes
        .flat_map(|(plane, values)| {
            let (scale, shift) = (scale[plane % c], shift[plane % c]);
            values.iter().map(move |v| larger(0.0, scale * v + shift))
        })
        .collect()
}

/// `b` if it is larger than `a`, else `a` (so a NaN `b` gives `a`, as `a.max(b)` does): one
/// comparison, which vectorises. In wasm `f32::max` is a call to libm's `fmaxf` (wasm's own `max`
/// treats a NaN otherwise): in the ReLUs and the pool, 6% of a click's time in the page.
fn larger(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(target_arch = "wasm32")]
    1
}

/// `task(&mut state, index)` for every index below `count`, each thread's state made by `init`:
/// natively over every core, in the page's wasm (one thread) in order.
fn for_each_index<S>(count: usize, init: impl Fn() -> S + Sync + Send, task: impl Fn(&mut S, usize) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each_init(init, task);
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut state = init();
        (0..count).for_each(|index| task(&mut state, index));
    }
}

/// A buffer shared by tasks that each write their own part of it.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);

// SAFETY: the tasks write disjoint parts (see `convolve` and `Columns::shared`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Through a method, so that closures capture the whole (Sync) wrapper, not its field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Where the product's right-hand side comes from when it is not the input itself (a stride-1
/// 1x1): columns of C * k * k rows, one per input channel and kernel tap, each the tap's pixels
/// for a tile's output rows.
enum Columns<'a> {
    /// A strided 1x1 convolution's: every stride-th pixel of every stride-th row.
    Subsampled { x: &'a [f32], shape: [usize; 4], stride: usize, ow: usize },
    /// A k x k convolution's, copied as runs from each image's stride phases.
    Phases { phases: Vec<Phases>, channels: usize, geometry: Geometry, ow: usize },
}

impl<'a> Columns<'a> {
    /// None for a stride-1 1x1 convolution, which reads its input in place.
    fn new(x: &'a [f32], shape: [usize; 4], geometry: Geometry) -> Option<Self> {
        let [_, c, h, w] = shape;
        let (_, ow) = geometry.output(h, w);
        match (geometry.kernel, geometry.padding, geometry.stride) {
            (1, 0, 1) => None,
            (1, 0, stride) => Some(Self::Subsampled { x, shape, stride, ow }),
            _ => {
                let phases = x.chunks_exact(c * h * w).map(|image| Phases::new(image, [c, h, w], geometry)).collect();
                Some(Self::Phases { phases, channels: c, geometry, ow })
            }
        }
    }

    /// The columns of an input channel: one per kernel tap.
    fn taps(&self) -> usize {
        match self {
            Self::Subsampled { .. } => 1,
            Self::Phases { geometry, .. } => geometry.kernel * geometry.kernel,
        }
    }

    fn channels(&self) -> usize {
        match self {
            Self::Subsampled { shape, .. } => shape[1],
            Self::Phases { channels, .. } => *channels,
        }
    }

    fn ow(&self) -> usize {
        match self {
            Self::Subsampled { ow, .. } | Self::Phases { ow, .. } => *ow,
        }
    }

    /// The columns of input channels `channels` for output rows `rows` of image `image`, into
    /// `dst`: row-major [channels * k * k, width], rows in (c, ky, kx) order, as OIHW weights
    /// are, each its rows * OW pixels and then zeros up to `width`.
    fn write(
        &self,
        image: usize,
        rows: Range<usize>,
        channels: Range<usize>,
        width: usize,
        dst: &mut [MaybeUninit<f32>],
    ) {
        let pixels = rows.len() * self.ow();
        let mut columns = dst.chunks_exact_mut(width).map(|column| {
            let (pixels, padding) = column.split_at_mut(pixels);
            padding.fill(MaybeUninit::new(0.0));
            pixels
        });
        match self {
            Self::Subsampled { x, shape: [_, c, h, w], stride, ow } => {
                let planes = x[image * c * h * w..][..c * h * w].chunks_exact(h * w);
                for (plane, dst) in planes.skip(channels.start).zip(columns) {
                    for (oy, run) in rows.clone().zip(dst.chunks_exact_mut(*ow)) {
                        let pixels = plane[oy * stride * w..].iter().step_by(*stride);
                        run.iter_mut().zip(pixels).for_each(|(to, &from)| _ = to.write(from));
                    }
                }
            }
            Self::Phases { phases, geometry, ow, .. } => {
                let Phases { values, size: (ph, pw) } = &phases[image];
                let Geometry { kernel, stride, .. } = *geometry;
                for ch in channels {
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let phase = ch * stride * stride + ky % stride * stride + kx % stride;
                            let plane = &values[phase * ph * pw..][..ph * pw];
                            let column = columns.next().expect("a column per channel and tap");
                            for (oy, run) in rows.clone().zip(column.chunks_exact_mut(*ow)) {
                                let start = (oy + ky / stride) * pw + kx / stride;
                                run.write_copy_of_slice(&plane[start..start + ow]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// All the columns of output rows `rows` of image `image`, into `cols`.
    fn fill(&self, image: usize, rows: Range<usize>, cols: &mut Vec<f32>) {
        let pixels = rows.len() * self.ow();
        let len = self.channels() * self.taps() * pixels;
        cols.clear();
        // At once: grown a row at a time, the buffer was copied over at each doubling.
        cols.reserve(len);
        self.write(image, rows, 0..self.channels(), pixels, &mut cols.spare_capacity_mut()[..len]);
        // SAFETY: `write` wrote all `len` columns' values.
        unsafe { cols.set_len(len) };
    }

    /// Every image's and tile's columns, each made by `parts` tasks (blocks of input channels),
    /// each column `padded(pixels)` long.
    fn shared(
        &self,
        n: usize,
        tiles: usize,
        rows_of: &(impl Fn(usize) -> Range<usize> + Sync),
        padded: &(impl Fn(usize) -> usize + Sync),
        parts: usize,
    ) -> Vec<Vec<f32>> {
        let (channels, taps) = (self.channels(), self.taps());
        let width = |tile: usize| padded(rows_of(tile).len() * self.ow());
        let len = |tile: usize| channels * taps * width(tile);
        let mut buffers: Vec<Vec<f32>> = (0..n * tiles).map(|t| Vec::with_capacity(len(t % tiles))).collect();
        let starts: Vec<SendPtr> = buffers.iter_mut().map(|b| SendPtr(b.as_mut_ptr())).collect();
        let part = channels.div_ceil(parts);
        for_each_index(
            n * tiles * parts,
            || (),
            |_, index| {
                let (t, first) = (index / parts, index % parts * part);
                if first >= channels {
                    return;
                }
                let (rows, chans) = (rows_of(t % tiles), first..(first + part).min(channels));
                let width = width(t % tiles);
                let per = taps * width;
                // SAFETY: each task writes its own input channels' rows of its buffer, within the
                // buffer's capacity (`len`).
                let dst = unsafe {
                    let start = starts[t].get().add(first * per).cast::<MaybeUninit<f32>>();
                    std::slice::from_raw_parts_mut(start, chans.len() * per)
                };
                self.write(t / tiles, rows, chans, width, dst);
            },
        );
        for (t, buffer) in buffers.iter_mut().enumerate() {
            // SAFETY: the tasks above wrote every channel's rows.
            unsafe { buffer.set_len(len(t % tiles)) };
        }
        buffers
    }
}

/// One image, zero-padded and split into its stride x stride phases: phase (py, px) holds the
/// padded pixels (i * stride + py, j * stride + px), so that every kernel tap reads contiguous
/// runs of one phase, whatever the stride. Channel by channel, each channel's phases together.
struct Phases {
    values: Vec<f32>,
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
        Self { values, size: (ph, pw) }
    }
}

#[cfg(test)]
mod tests {
    use super::{average_pooled, convolve, max_pool, scaled_rectified, zero_padded, Geometry, Kernel};

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
        // On pools of 1, 2, 3 and 16 threads: the tiles and blocks depend on the count.
        let cases = [
            ([2, 3, 13, 11], 7, 2, 3, 40),
            ([1, 4, 5, 6], 3, 1, 1, 64),
            ([2, 2, 9, 7], 3, 2, 1, 17),
            ([1, 96, 40, 40], 3, 1, 1, 8),
            ([3, 24, 6, 5], 1, 1, 0, 48),
            ([2, 40, 9, 8], 1, 2, 0, 24),
            ([1, 8, 60, 60], 1, 1, 0, 100),
        ];
        let pools = [1, 2, 3, 16].map(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap());
        for ((shape, kernel, stride, padding, out), pool) in
            cases.into_iter().flat_map(|case| pools.iter().map(move |p| (case, p)))
        {
            let g = Geometry { kernel, stride, padding };
            let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
            let weight: Vec<f32> =
                (0..out * shape[1] * kernel * kernel).map(|i| ((i * 104729) % 19) as f32 / 9.0 - 1.0).collect();
            let bias: Vec<f32> = (0..out).map(|o| o as f32 / 3.0).collect();
            let kernel = Kernel { weight, bias, geometry: g };
            let (ours, _) = pool.install(|| convolve(&x, shape, &kernel, None, false));
            let [_, c, h, w] = shape;
            assert_eq!(convolve(&[], [0, c, h, w], &kernel, None, false).0, Vec::<f32>::new(), "an empty batch");
            let reference = naive(&x, shape, &kernel.weight, &kernel.bias, g);
            assert_eq!(ours.len(), reference.len());
            let residual: Vec<f32> = (0..ours.len()).map(|i| ((i * 31) % 7) as f32 - 3.0).collect();
            let (rectified, _) = pool.install(|| convolve(&x, shape, &kernel, Some(&residual), true));
            assert!(rectified.iter().zip(&ours).zip(&residual).all(|((r, o), s)| *r == (o + s).max(0.0)));
            let threads = pool.current_num_threads();
            for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{shape:?} {g:?}, {threads} threads: {i}: {a} against {b}"
                );
            }
        }
    }

    #[test]
    fn zero_padding_keeps_every_other_pixel_between_zero_channels() {
        // Two images of two 3x3 channels, numbered 0..36.
        let x: Vec<f32> = (0..36).map(|v| v as f32).collect();
        let (padded, shape) = zero_padded(&x, [2, 2, 3, 3], 2, 1, 2);
        assert_eq!(shape, [2, 5, 2, 2]);
        let channel = |image: usize, c: usize| &padded[(image * 5 + c) * 4..][..4];
        assert_eq!(channel(0, 0), [0.0; 4]);
        assert_eq!(channel(0, 1), [0.0, 2.0, 6.0, 8.0]);
        assert_eq!(channel(0, 2), [9.0, 11.0, 15.0, 17.0]);
        assert_eq!(channel(1, 2), [27.0, 29.0, 33.0, 35.0]);
        assert_eq!((channel(1, 3), channel(1, 4)), ([0.0; 4].as_slice(), [0.0; 4].as_slice()));
    }

    #[test]
    fn average_pooling_averages_each_square_the_border_cuts_too() {
        // One image of one 3x5 channel, numbered 0..15, pooled 2x2: the last row and column are
        // squares the border cuts, averaged over what they hold.
        let x: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let (pooled, shape) = average_pooled(&x, [1, 1, 3, 5], 2);
        assert_eq!(shape, [1, 1, 2, 3]);
        assert_eq!(pooled, [3.0, 5.0, 6.5, 10.5, 12.5, 14.0]);
        // Two images of two 2x2 channels: one value each.
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(average_pooled(&x, [2, 2, 2, 2], 2), (vec![1.5, 5.5, 9.5, 13.5], [2, 2, 1, 1]));
    }

    #[test]
    fn a_batch_norm_alone_scales_and_shifts_each_channel_then_rectifies() {
        // Two images of two 1x2 channels.
        let x = [1.0, -2.0, 3.0, 4.0, -1.0, 2.0, 0.5, -0.5];
        let out = scaled_rectified(&x, [2, 2, 1, 2], &[2.0, -1.0], &[0.5, 1.0]);
        assert_eq!(out, [2.5, 0.0, 0.0, 0.0, 0.0, 4.5, 0.5, 1.5]);
    }

    #[test]
    fn max_pooling_follows_the_definition() {
        // The stem's pool (3x3, stride 2, padding 1) on even and odd sizes, and a wider window;
        // negative values, so that a padded border read as zeros would show.
        for (shape, kernel, stride, padding) in
            [([2, 3, 8, 8], 3, 2, 1), ([1, 2, 7, 9], 3, 2, 1), ([1, 1, 6, 5], 4, 3, 2)]
        {
            let g = Geometry { kernel, stride, padding };
            let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i * 7919) % 23) as f32 - 30.0).collect();
            let (ours, out_shape) = max_pool(&x, shape, g);
            let [n, c, h, w] = shape;
            let (oh, ow) = g.output(h, w);
            assert_eq!(out_shape, [n, c, oh, ow]);
            let mut reference = Vec::new();
            for plane in x.chunks_exact(h * w) {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let taps = (0..kernel).flat_map(|ky| (0..kernel).map(move |kx| (ky, kx)));
                        let inside = taps.filter_map(|(ky, kx)| {
                            let (y, x) =
                                ((oy * stride + ky).checked_sub(padding)?, (ox * stride + kx).checked_sub(padding)?);
                            (y < h && x < w).then(|| plane[y * w + x])
                        });
                        reference.push(inside.fold(f32::NEG_INFINITY, f32::max));
                    }
                }
            }
            assert_eq!(ours, reference, "{shape:?} {g:?}");
        }
    }
}
