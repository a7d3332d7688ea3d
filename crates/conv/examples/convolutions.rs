//! Times the host's convolutions of the Keras ResNet-50 at batch 1 on rayon's pool, each distinct
//! one alone and all of a forward pass together (every one by the times the network runs it), so
//! that a plan can be weighed for many cores on few: `RAYON_NUM_THREADS=16 cargo run --release -p
//! xai-conv --example convolutions` runs the tasks 16 cores would (docs/benchmarks.md).

use std::time::Instant;

use xai_conv::{convolve, Geometry, Kernel};
use xai_files::architecture::{Architecture, ConvSpec, Shortcut};

/// One convolution as the network runs it: its input's shape, geometry and output channels, and
/// what it adds to its tiles.
#[derive(PartialEq)]
struct Case {
    stage: usize,
    input: [usize; 4],
    geometry: Geometry,
    out: usize,
    /// The last of a block's main path: the shortcut added, then the ReLU.
    residual: bool,
    /// Every convolution but a shortcut's projection ends in a ReLU.
    relu: bool,
}

impl Case {
    fn new(stage: usize, spec: &ConvSpec, input: [usize; 4], residual: bool, relu: bool) -> Self {
        let geometry = Geometry { kernel: spec.kernel, stride: spec.stride, padding: spec.padding };
        Case { stage, input, geometry, out: spec.out_channels, residual, relu }
    }

    fn output(&self) -> [usize; 4] {
        let (h, w) = self.geometry.output(self.input[2], self.input[3]);
        [self.input[0], self.out, h, w]
    }

    fn name(&self) -> String {
        let [_, c, h, w] = self.input;
        let Geometry { kernel, stride, .. } = self.geometry;
        let stage = match self.stage {
            0 => "stem".to_string(),
            s => format!("layer{s}"),
        };
        let stride = if stride > 1 { format!(" / {stride}") } else { String::new() };
        let role = if self.relu { "" } else { " shortcut" };
        format!("{stage}{role} {kernel}x{kernel}{stride}, {c} > {} on {h}x{w}", self.out)
    }

    /// The median and tenth percentile of `runs` convolutions, in ms.
    fn time(&self, runs: usize) -> (f64, f64) {
        let Geometry { kernel, .. } = self.geometry;
        let [_, c, ..] = self.input;
        let x: Vec<f32> = (0..self.input.iter().product::<usize>()).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
        let weight = (0..self.out * c * kernel * kernel).map(|i| ((i * 104729) % 19) as f32 / 9.0 - 1.0).collect();
        let residual = self.residual.then(|| vec![0.25; self.output().iter().product()]);
        let kernel = Kernel { weight, bias: vec![0.5; self.out], geometry: self.geometry };
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(convolve(&x, self.input, &kernel, residual.as_deref(), self.relu));
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        (ms[runs / 2], ms[runs / 10])
    }
}

/// Each distinct convolution of a forward pass at 224 x 224 with the times it runs.
fn network() -> Vec<(Case, usize)> {
    let architecture = Architecture::keras_resnet50();
    let mut cases: Vec<(Case, usize)> = Vec::new();
    let mut add = |case: Case| match cases.iter_mut().find(|(seen, _)| *seen == case) {
        Some((_, count)) => *count += 1,
        None => cases.push((case, 1)),
    };
    let stem = Case::new(0, &architecture.stem_specs()[0], [1, 3, 224, 224], false, true);
    let [n, c, h, w] = stem.output();
    let (h, w) = Geometry { kernel: 3, stride: 2, padding: 1 }.output(h, w); // the max pool
    let mut shape = [n, c, h, w];
    add(stem);
    for (s, stage) in architecture.block_specs().iter().enumerate() {
        for block in stage {
            if let Shortcut::Projection(spec) = &block.shortcut {
                add(Case::new(s + 1, spec, shape, false, false));
            }
            for (i, spec) in block.main.iter().enumerate() {
                let case = Case::new(s + 1, spec, shape, i + 1 == block.main.len(), true);
                shape = case.output();
                add(case);
            }
        }
    }
    cases
}

fn main() {
    println!("{} threads", rayon::current_num_threads());
    let mut total = (0.0, 0.0);
    for (case, count) in network() {
        let (median, tenth) = case.time(300);
        println!("{} (x{count}): median {median:.3} ms (tenth percentile {tenth:.3})", case.name());
        total = (total.0 + median * count as f64, total.1 + tenth * count as f64);
    }
    println!("a forward pass's convolutions: {:.2} ms of medians ({:.2} of tenth percentiles)", total.0, total.1);
}
