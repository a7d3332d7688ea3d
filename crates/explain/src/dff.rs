//! Deep Feature Factorization: Collins et al., "Deep Feature Factorization for Concept
//! Discovery" (ECCV 2018). The layer4 activations of one or several photos, as a
//! (channels x positions) matrix minus each channel's minimum (as pytorch-grad-cam does), are
//! factorised by non-negative matrix factorisation, A ~ W H, with Lee & Seung's multiplicative
//! updates (`xai_nmf`, on the host). Each column of W (+ the offset) is a concept, classified by
//! the FC head; each row of H is where that concept lies. One factorisation over several photos
//! makes the same concept light up in all of them.

use burn::tensor::{Device, Tensor, TensorData};
use xai_model::{Labels, ResNet};
use xai_nmf::{Factors, Matrix};

use crate::budget::images_per_pass;
use crate::map::Map;
use crate::readback::{read_floats, ReadbackError};

/// The NMF's options; k is the number of concepts.
pub use xai_nmf::{Cores, Options as DffOptions, K_RANGE};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DffError {
    #[error("k = {0} is out of range (valid: 1 to 16 concepts)")]
    K(usize),
    #[error(
        "k = {k} concepts from {positions} positions of the layer: at most one a position (more photos, or larger ones, have more)"
    )]
    TooFewPositions { k: usize, positions: usize },
    #[error("the NMF can run on the GPU only when the network does (this build or device has none)")]
    NoGpu,
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// Where the NMF runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NmfOn {
    /// On the GPU for large matrices (many photos) when the network runs on one, else on the host.
    #[default]
    Auto,
    Host,
    Gpu,
}

/// From this many multiply-adds a product (channels x positions x k) the NMF goes to the GPU:
/// 8 photos at 224 x 224 with k = 5 (2048 x 392 x 5). Below it an iteration on the host takes
/// tens of microseconds, which a GPU's two launches do not beat; the crossover is measured by
/// `bench/gpu.sh` (docs/benchmarks.md).
pub const GPU_NMF_FROM: usize = 4_000_000;

impl NmfOn {
    fn on_gpu(self, device: &Device, channels: usize, positions: usize, k: usize) -> bool {
        let gpu = cfg!(feature = "gpu") && *device != Device::flex();
        match self {
            NmfOn::Auto => gpu && channels * positions * k >= GPU_NMF_FROM,
            NmfOn::Host => false,
            NmfOn::Gpu => true,
        }
    }
}

/// One concept: its two most probable classes and the share of positions where its scaled map
/// is the strongest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Concept {
    pub labels: Vec<(String, f32)>,
    pub share: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Concepts {
    pub concepts: Vec<Concept>,
    /// Per photo, one map per concept (a row of H) at layer4's resolution, scaled so each
    /// concept peaks at 1 over all photos.
    pub maps: Vec<Vec<Map>>,
    /// ||A - W H||_F / ||A||_F on the offset matrix.
    pub rel_error: f32,
    pub iterations: usize,
    /// Whether the NMF ran on the GPU.
    pub nmf_on_gpu: bool,
}

impl Concepts {
    /// Where concept `k` is strongest: the photo, and the row and column of its map there.
    pub fn strongest(&self, k: usize) -> (usize, usize, usize) {
        let mut best = (0, 0, 0, f32::NEG_INFINITY);
        for (photo, maps) in self.maps.iter().enumerate() {
            for (i, &value) in maps[k].values.iter().enumerate() {
                if value > best.3 {
                    best = (photo, i / maps[k].width, i % maps[k].width, value);
                }
            }
        }
        (best.0, best.1, best.2)
    }
}

async fn read<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, DffError> {
    Ok(read_floats(tensor).await?)
}

/// Factorises the layer4 activations of a batch of photos [N, 3, S, S] into `k` concepts shared
/// by all of them, classifies each concept and reads back the maps. The NMF runs where
/// [`NmfOn::Auto`] puts it.
pub async fn factorize_concepts(
    net: &ResNet,
    input: &Tensor<4>,
    labels: &Labels,
    options: DffOptions,
) -> Result<Concepts, DffError> {
    if !K_RANGE.contains(&options.k) {
        return Err(DffError::K(options.k));
    }
    concepts_of(net, activation_matrix(net, input), labels, options, NmfOn::Auto).await
}

/// The concepts in layer4 activations, as [`ActivationRows`] gathers them: factorised,
/// classified, and mapped photo by photo.
pub async fn concepts_of(
    net: &ResNet,
    (activations, [h, w]): (Tensor<2>, [usize; 2]),
    labels: &Labels,
    options: DffOptions,
    nmf: NmfOn,
) -> Result<Concepts, DffError> {
    let [positions, c] = activations.dims();
    let n = positions / (h * w);
    let device = activations.device();
    let Factorized { offset, factors, on_gpu } = factorize_activations(activations, options, nmf).await?;
    let Factors { w_t, h: coefficients, rel_error, iterations } = factors;

    // W H = (W D^-1)(D H) for any positive diagonal D, so a row of H has no scale of its own:
    // each concept's map is scaled to peak at 1 over all photos (pytorch-grad-cam scales per
    // photo, which lights up a concept even in a photo where it is barely present).
    let coefficients: Vec<f32> = coefficients
        .chunks(positions)
        .flat_map(|row| {
            let peak = row.iter().copied().fold(0.0, f32::max) + f32::MIN_POSITIVE;
            row.iter().map(move |v| v / peak)
        })
        .collect();
    let concept_vectors: Vec<f32> = w_t.iter().enumerate().map(|(i, v)| v + offset[i % c]).collect();
    let concept_vectors = Tensor::<2>::from_data(TensorData::new(concept_vectors, [options.k, c]), &device);
    let probabilities = xai_model::probabilities(net.classify_uniform(concept_vectors));
    let [_, classes] = probabilities.dims();
    let probabilities = read(probabilities).await?;

    let k = options.k;
    let mut wins = vec![0usize; k];
    for p in 0..positions {
        let best = (0..k).max_by(|&x, &y| coefficients[x * positions + p].total_cmp(&coefficients[y * positions + p]));
        wins[best.expect("k >= 1")] += 1;
    }
    let concepts = (0..k)
        .map(|i| {
            let probs = &probabilities[i * classes..(i + 1) * classes];
            let top = labels.top_of_probabilities(probs, 2);
            Concept {
                labels: top.into_iter().map(|p| (p.label, p.prob)).collect(),
                share: wins[i] as f32 / positions as f32,
            }
        })
        .collect();
    let maps = (0..n)
        .map(|image| {
            (0..k)
                .map(|i| {
                    let start = i * positions + image * h * w;
                    Map::new(h, w, coefficients[start..start + h * w].to_vec())
                })
                .collect()
        })
        .collect();
    Ok(Concepts { concepts, maps, rel_error, iterations, nmf_on_gpu: on_gpu })
}

/// The layer4 activations of photos [N, 3, S, S] as one [positions, channels] matrix (photo by
/// photo, row by row), gathered a pass at a time: passes within the memory budget (many photos at
/// a large input size would not fit in one), or of fewer photos for a caller that shows progress
/// and can stop between them (the page). Each pass's output is small.
pub struct ActivationRows<'a> {
    net: &'a ResNet,
    input: &'a Tensor<4>,
    per_pass: usize,
    parts: Vec<Tensor<2>>,
    /// layer4's height and width.
    size: [usize; 2],
    done: usize,
}

impl<'a> ActivationRows<'a> {
    /// Passes of `at_most` photos, fewer where the memory budget says so.
    pub fn new(net: &'a ResNet, input: &'a Tensor<4>, at_most: usize) -> Self {
        let [_, _, height, width] = input.dims();
        let per_pass = images_per_pass(height, width, at_most.max(1));
        Self { net, input, per_pass, parts: Vec::new(), size: [0; 2], done: 0 }
    }

    /// Photos done, of how many.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.input.dims()[0])
    }

    /// Runs the next pass; says whether every photo is done.
    pub fn step(&mut self) -> bool {
        let n = self.input.dims()[0];
        if self.done < n {
            let end = (self.done + self.per_pass).min(n);
            let activations = self.net.features(self.input.clone().slice_dim(0, self.done..end), self.net.last_layer());
            let [images, c, h, w] = activations.dims();
            self.size = [h, w];
            self.parts.push(activations.permute([0, 2, 3, 1]).reshape([images * h * w, c]));
            self.done = end;
        }
        self.done == n
    }

    /// The matrix of every photo's rows, and layer4's height and width.
    pub fn matrix(self) -> (Tensor<2>, [usize; 2]) {
        (Tensor::cat(self.parts, 0), self.size)
    }
}

/// [`ActivationRows`] of every photo, in passes as large as the memory budget allows.
pub fn activation_matrix(net: &ResNet, input: &Tensor<4>) -> (Tensor<2>, [usize; 2]) {
    let mut rows = ActivationRows::new(net, input, input.dims()[0]);
    while !rows.step() {}
    rows.matrix()
}

/// A factorisation of activations: A - offset ~ W H.
pub struct Factorized {
    /// Each channel's minimum over the positions, subtracted before the NMF (as pytorch-grad-cam does).
    pub offset: Vec<f32>,
    pub factors: Factors,
    /// Whether the NMF ran on the GPU.
    pub on_gpu: bool,
}

/// The NMF of activations `a` ([positions, channels]) minus each channel's minimum, on the
/// host or on the GPU `a` lives on, as `nmf` says.
pub async fn factorize_activations(a: Tensor<2>, options: DffOptions, nmf: NmfOn) -> Result<Factorized, DffError> {
    if !K_RANGE.contains(&options.k) {
        return Err(DffError::K(options.k));
    }
    let [positions, channels] = a.dims();
    if options.k > positions {
        return Err(DffError::TooFewPositions { k: options.k, positions });
    }
    if nmf.on_gpu(&a.device(), channels, positions, options.k) {
        if let Some((offset, factors)) = factorize_on_gpu(a.clone(), options).await? {
            return Ok(Factorized { offset, factors, on_gpu: true });
        }
        if nmf == NmfOn::Gpu {
            return Err(DffError::NoGpu);
        }
    }
    let values = read(a).await?;
    let offset: Vec<f32> = (0..channels)
        .map(|ch| (0..positions).map(|p| values[p * channels + ch]).fold(f32::INFINITY, f32::min))
        .collect();
    let matrix = Matrix::from_fn(channels, positions, |ch, p| values[p * channels + ch] - offset[ch]);
    drop(values);
    let factors = xai_nmf::factorize(&matrix, options).ok_or(DffError::K(options.k))?;
    Ok(Factorized { offset, factors, on_gpu: false })
}

/// The offset and the NMF on the GPU `a` lives on; `None` if it lives on none.
#[cfg(feature = "gpu")]
async fn factorize_on_gpu(a: Tensor<2>, options: DffOptions) -> Result<Option<(Vec<f32>, Factors)>, DffError> {
    let offset = a.clone().min_dim(0);
    let Some(matrix) = crate::nmf_gpu::DeviceMatrix::new(a - offset.clone()).await? else { return Ok(None) };
    let factors = crate::nmf_gpu::factorize(&matrix, options).await?;
    Ok(Some((read(offset).await?, factors)))
}

#[cfg(not(feature = "gpu"))]
async fn factorize_on_gpu(_: Tensor<2>, _: DffOptions) -> Result<Option<(Vec<f32>, Factors)>, DffError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{network, photos};

    #[test]
    fn concepts_share_every_position_and_map_every_photo() {
        let net = network();
        let options = DffOptions { k: 3, ..DffOptions::default() };
        let concepts =
            pollster::block_on(factorize_concepts(&net, &photos(2), &Labels::numbered(1000), options)).unwrap();
        assert_eq!(concepts.concepts.len(), 3);
        let shares: f32 = concepts.concepts.iter().map(|c| c.share).sum();
        assert!((shares - 1.0).abs() < 1e-6, "shares sum to {shares}");
        assert!(concepts.concepts.iter().all(|c| c.labels.len() == 2 && c.labels[0].1 >= c.labels[1].1));
        assert_eq!((concepts.maps.len(), concepts.maps[0].len(), concepts.maps[0][0].width), (2, 3, 2));
        // Each concept's map peaks at exactly 1 over both photos.
        for k in 0..3 {
            let peak = concepts.maps.iter().flat_map(|photo| &photo[k].values).fold(0f32, |m, v| m.max(*v));
            assert!((peak - 1.0).abs() < 1e-5, "concept {k} peaks at {peak}");
            let (photo, row, col) = concepts.strongest(k);
            assert_eq!(concepts.maps[photo][k].values[row * 2 + col], peak);
        }
        assert!(concepts.rel_error.is_finite() && concepts.rel_error < 1.0);
    }

    #[test]
    fn activations_gathered_a_photo_a_pass_are_those_of_one_pass() {
        let (net, input) = (network(), photos(3));
        let mut rows = ActivationRows::new(&net, &input, 1);
        let mut seen = vec![rows.progress()];
        while !rows.step() {
            seen.push(rows.progress());
        }
        assert_eq!(seen, [(0, 3), (1, 3), (2, 3)]);
        assert!(rows.step(), "a step after the last does nothing");
        let (stepped, size) = rows.matrix();
        let (whole, whole_size) = activation_matrix(&net, &input);
        assert_eq!((size, stepped.dims()), (whole_size, whole.dims()));
        let difference: f32 = (stepped - whole).abs().max().into_scalar();
        assert!(difference < 1e-4, "{difference}");
    }

    /// The GPU's NMF is the host's, up to the order of f32 sums: the same iterations, errors and
    /// factors, over partial cubes both ways (70 channels: 32 + 32 + 6; 37 positions: a partial
    /// last cube at every k).
    #[cfg(feature = "gpu")]
    #[test]
    fn the_gpu_factorises_as_the_host_does() {
        let Some(gpu) = crate::testing::gpu() else { return };
        let (positions, channels) = (37, 70);
        let values: Vec<f32> =
            (0..positions * channels).map(|i| ((i * 31 + i / channels * 17) % 23) as f32 * 0.1 - 0.5).collect();
        let a = Tensor::<2>::from_data(TensorData::new(values, [positions, channels]), &gpu);
        for k in [1, 3, 5, 16] {
            let options = DffOptions { k, max_iterations: 60, ..DffOptions::default() };
            let factorize = |nmf| pollster::block_on(factorize_activations(a.clone(), options, nmf)).unwrap();
            let (host, found) = (factorize(NmfOn::Host), factorize(NmfOn::Gpu));
            assert!(found.on_gpu && !host.on_gpu);
            assert_eq!(found.offset, host.offset);
            let (found, host) = (found.factors, host.factors);
            assert_eq!(found.iterations, host.iterations, "k = {k}");
            let errors = (found.rel_error, host.rel_error);
            assert!((errors.0 - errors.1).abs() < 1e-4, "k = {k}: relative errors {errors:?}");
            for (found, host) in [(&found.w_t, &host.w_t), (&found.h, &host.h)] {
                let worst = found.iter().zip(host).map(|(x, y)| (x - y).abs() / y.abs().max(1e-2)).fold(0.0, f32::max);
                assert!(worst < 1e-3, "k = {k}: relative difference {worst}");
            }
        }
    }

    #[test]
    fn the_cpu_has_no_gpu_nmf() {
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0; 8], [2, 4]), &burn::tensor::Device::flex());
        let options = DffOptions { k: 1, ..DffOptions::default() };
        let result = pollster::block_on(factorize_activations(a.clone(), options, NmfOn::Gpu));
        assert_eq!(result.err(), Some(DffError::NoGpu));
        assert!(!pollster::block_on(factorize_activations(a, options, NmfOn::Auto)).unwrap().on_gpu);
    }

    #[test]
    fn k_out_of_range_is_refused() {
        let options = DffOptions { k: 17, ..DffOptions::default() };
        let result = pollster::block_on(factorize_concepts(&network(), &photos(1), &Labels::numbered(1000), options));
        assert_eq!(result.unwrap_err(), DffError::K(17));
    }
}
