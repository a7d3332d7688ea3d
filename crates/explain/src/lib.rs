//! Explanations of the ResNet's predictions: the CAM family and Deep Feature Factorization,
//! backend-generic (flex, wgpu, WebGPU), and the rendering of their maps to RGBA. Knows nothing
//! of browsers or terminals.

pub mod analysis;
pub mod budget;
pub mod channels;
pub mod dff;
pub mod evidence;
pub mod imputation;
pub mod map;
pub mod methods;
pub mod metrics;
#[cfg(feature = "gpu")]
mod nmf_gpu;
pub mod pipeline;
pub mod projection;
pub mod readback;
pub mod render;
pub mod road;
pub mod sanity;
pub mod scoring;
pub mod similarity;
pub mod smooth;

pub use analysis::{analyse, analyse_each, Analysis};
pub use dff::{factorize_concepts, Concept, Concepts, DffError, DffOptions};
pub use map::Map;
pub use methods::{all as all_methods, names as method_names, CamMethod, CamWeights, MethodInputs};
pub use pipeline::{explain, explain_each, method, methods_named, CamError, CamRequest, Explanation, Score, Target};
pub use render::Colormap;

/// A whole ResNet-50 with patterned weights (no weight file) and a patterned photo, for unit
/// tests that run in seconds; the fixture tests in `crates/cli/tests` use the real weights.
#[cfg(test)]
pub(crate) mod testing {
    use burn::tensor::{Device, Tensor, TensorData};
    use xai_model::{Architecture, NetworkParams, Preprocessing, ResNet};

    /// Input side: layer4 is 2 x 2 here, layer3 4 x 4.
    pub const SIDE: usize = 64;

    pub fn network() -> ResNet {
        ResNet::new(&NetworkParams::patterned(Architecture::keras_resnet50()), Preprocessing::Caffe, &Device::flex())
    }

    /// The GPU wgpu finds (lavapipe on the CI machine), one for the whole test binary (wgpu's
    /// device can be set up once a process); `None` without an adapter, unless XAI_REQUIRE_WGPU
    /// is set.
    #[cfg(feature = "gpu")]
    pub fn gpu() -> Option<Device> {
        static GPU: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
        match GPU.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string())) {
            Ok(device) => Some(device.clone()),
            Err(error) => {
                assert!(std::env::var_os("XAI_REQUIRE_WGPU").is_none(), "{error}");
                println!("skipped: {error}");
                None
            }
        }
    }

    /// `n` preprocessed photos [n, 3, SIDE, SIDE] of smooth, different patterns.
    pub fn photos(n: usize) -> Tensor<4> {
        let values = (0..n * 3 * SIDE * SIDE)
            .map(|i| {
                let (image, channel, y, x) = (i / (3 * SIDE * SIDE), i / (SIDE * SIDE) % 3, i / SIDE % SIDE, i % SIDE);
                60.0 * ((x as f32 * 0.11 + image as f32).sin() + (y as f32 * 0.07 * (channel + 1) as f32).cos())
            })
            .collect();
        Tensor::from_data(TensorData::new(values, [n, 3, SIDE, SIDE]), &Device::flex())
    }
}
