//! How many images one pass of the network may take. Batched work (Score-CAM's masked inputs,
//! Ablation-CAM's ablated copies, the metrics' curves, DFF over many photos) is split so that a pass stays within a
//! memory budget: large inputs run in more, smaller passes instead of failing to allocate. On
//! the CPU a pass also takes few images, which cost no more there.

use burn::tensor::Device;

/// 1 GB natively; 256 MB in the page, where wasm32's 4 GB hold everything else too.
const BUDGET_BYTES: usize = if cfg!(target_arch = "wasm32") { 256 << 20 } else { 1 << 30 };
/// What a ResNet pass holds for one image, per input pixel: its widest activations (conv1 and
/// layer1 keep 64 floats per input pixel at a quarter of the side), about three times over.
const BYTES_PER_INPUT_PIXEL: usize = 200;

/// Images of `height` x `width` that one pass may take: at most `at_most`, at least one.
pub fn images_per_pass(height: usize, width: usize, at_most: usize) -> usize {
    (BUDGET_BYTES / (BYTES_PER_INPUT_PIXEL * height * width).max(1)).clamp(1, at_most.max(1))
}

/// At most this many images a pass on the CPU: larger batches are no faster there
/// (docs/benchmarks.md), and in the page a pass holds its only thread.
pub const CPU_IMAGES_PER_PASS: usize = 4;

/// Images one pass on `device` may take: at most `at_most`, at most [`CPU_IMAGES_PER_PASS`] on
/// the CPU, within the memory budget, at least one.
pub fn images_per_pass_on(device: &Device, height: usize, width: usize, at_most: usize) -> usize {
    let on_cpu = *device == Device::flex();
    images_per_pass(height, width, if on_cpu { at_most.min(CPU_IMAGES_PER_PASS) } else { at_most })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_inputs_take_fewer_images_a_pass() {
        assert_eq!(images_per_pass(224, 224, 16), 16);
        let at_1024 = images_per_pass(1024, 1024, 16);
        assert!((1..16).contains(&at_1024), "{at_1024}");
        assert_eq!(images_per_pass(100_000, 100_000, 16), 1);
    }
}
