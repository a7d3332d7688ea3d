//! Times the host's convolutions of ResNet-50's small maps (layer3 and layer4 at batch 1, where
//! the output channels are split into blocks) on rayon's pool, so that a plan can be weighed
//! for many cores on few: `RAYON_NUM_THREADS=16 cargo run --release -p xai-conv --example
//! convolutions` runs the tasks 16 cores would (docs/benchmarks.md).

use std::time::Instant;

use xai_conv::{convolve, Geometry, Kernel};

fn main() {
    // Name, input [N, C, H, W], kernel, stride, padding, output channels (Keras' ResNet-50: the
    // stride on a downsampling block's first 1x1 and its shortcut).
    let cases = [
        ("layer3 3x3", [1, 256, 14, 14], 3, 1, 1, 256),
        ("layer4 1x1 / 2, 1024 > 512", [1, 1024, 14, 14], 1, 2, 0, 512),
        ("layer4 shortcut 1x1 / 2, 1024 > 2048", [1, 1024, 14, 14], 1, 2, 0, 2048),
        ("layer4 3x3", [1, 512, 7, 7], 3, 1, 1, 512),
        ("layer4 1x1, 512 > 2048", [1, 512, 7, 7], 1, 1, 0, 2048),
    ];
    println!("{} threads", rayon::current_num_threads());
    for (name, shape, kernel, stride, padding, out) in cases {
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
        let weight = (0..out * shape[1] * kernel * kernel).map(|i| ((i * 104729) % 19) as f32 / 9.0 - 1.0).collect();
        let kernel = Kernel { weight, bias: vec![0.5; out], geometry: Geometry { kernel, stride, padding } };
        let mut ms: Vec<f64> = (0..300)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(convolve(&x, shape, &kernel, None, true));
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!("{name}: median {:.3} ms (tenth percentile {:.3})", ms[150], ms[30]);
    }
}
