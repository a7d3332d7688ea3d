//! The model in the browser: which backend runs it, and the analyses the page shows. Everything
//! here calls the same core as the CLI; results come back from the device asynchronously.

use burn::tensor::Device;
use image::{RgbImage, RgbaImage};
use xai_explain::dff::{factorize_concepts, DffError, DffOptions};
use xai_explain::readback::{read_floats, read_maps, ReadbackError};
use xai_explain::render::{concept_composites, overlay, Colormap, Map};
use xai_explain::{CamRequest, Concepts, Target};
use xai_model::{preprocess, Labels, Layer, Prediction, ResNet};

/// The compute backend in use, as the page names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    WebGpu,
    Cpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::WebGpu => "WebGPU",
            Backend::Cpu => "CPU",
        }
    }
}

/// The browser's WebGPU device, or why there is none.
pub async fn webgpu_device() -> Result<Device, String> {
    use burn::tensor::wgpu::WgpuBackend;
    // `navigator.gpu` is still behind web-sys' unstable flag, so look it up by name.
    let has_gpu = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"gpu".into()).ok())
        .is_some_and(|gpu| !gpu.is_undefined());
    if !has_gpu {
        return Err("this browser has no WebGPU".into());
    }
    let options = Device::wgpu_options().graphics_api(WgpuBackend::WebGpu);
    options.init_async().await.map_err(|error| format!("WebGPU was refused ({error})"))
}

/// WebGPU when the browser grants it, else burn's CPU backend compiled to wasm; the third value
/// says why WebGPU was not used.
pub async fn pick_device() -> (Device, Backend, Option<String>) {
    match webgpu_device().await {
        Ok(device) => (device, Backend::WebGpu, None),
        Err(why) => (Device::flex(), Backend::Cpu, Some(why)),
    }
}

pub struct Engine {
    pub net: ResNet,
    pub labels: Labels,
    pub backend: Backend,
}

/// Why a job failed: the visitor's input, or the device, which the page answers by moving to
/// the CPU.
#[derive(Debug)]
pub enum Failure {
    Input(String),
    Device(ReadbackError),
}

impl From<ReadbackError> for Failure {
    fn from(error: ReadbackError) -> Self {
        Failure::Device(error)
    }
}

/// What the page shows for one photo.
#[derive(Clone, PartialEq)]
pub struct Analysis {
    pub top5: Vec<Prediction>,
    pub class: usize,
    pub overlay: RgbaImage,
    /// From the start of the pass to the logits on the host, and to the map on the host. The
    /// CPU backend computes everything before the logits arrive; WebGPU queues it and the
    /// logits come first.
    pub logits_ms: f64,
    pub heatmap_ms: f64,
}

/// The explanation settings the page lets the visitor choose.
#[derive(Clone, PartialEq)]
pub struct Settings {
    pub method: String,
    pub layer: Layer,
    pub class: Option<usize>,
    pub colormap: Colormap,
    pub opacity: u8,
    pub k: usize,
}

pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

impl Engine {
    /// Classifies the crop and explains the chosen (or top-1) class, in one pass of the network.
    pub async fn analyse(&self, crop: &RgbImage, settings: &Settings) -> Result<Analysis, Failure> {
        let method = xai_explain::method(&settings.method).map_err(|e| Failure::Input(e.to_string()))?;
        let input = preprocess::input_tensor(std::slice::from_ref(crop), self.net.device());
        let target = settings.class.map_or(Target::TopClass, |class| Target::Classes(vec![class]));
        let start = now_ms();
        let request = CamRequest { layer: settings.layer, target: &target, method, eigen_smooth: false };
        let explanation = xai_explain::explain(&self.net, &input, request).map_err(|e| Failure::Input(e.to_string()))?;
        let logits = read_floats(explanation.logits).await?;
        let logits_ms = now_ms() - start;
        let map = read_maps(explanation.maps).await?.remove(0);
        let top5 = self.labels.top(&logits, 5);
        let class = settings.class.unwrap_or(top5[0].class);
        let overlay = overlay(crop, &map, settings.colormap, f32::from(settings.opacity) / 100.0);
        Ok(Analysis { top5, class, overlay, logits_ms, heatmap_ms: now_ms() - start })
    }

    /// One factorisation over all the crops' layer4 features.
    pub async fn factorize(&self, crops: &[RgbImage], k: usize) -> Result<Concepts, Failure> {
        let input = preprocess::input_tensor(crops, self.net.device());
        let options = DffOptions { k, ..DffOptions::default() };
        factorize_concepts(&self.net, &input, &self.labels, options).await.map_err(|e| match e {
            DffError::Readback(error) => Failure::Device(error),
            other => Failure::Input(other.to_string()),
        })
    }
}

/// The composite of the crops side by side; with `only`, that concept alone.
pub fn dff_composite(crops: &[RgbImage], factorization: &Concepts, only: Option<usize>) -> RgbaImage {
    let keep = |maps: &Vec<Map>| -> Vec<Map> {
        maps.iter()
            .enumerate()
            .map(|(k, m)| match only {
                Some(kept) if kept != k => Map::new(m.height, m.width, vec![0.0; m.values.len()]),
                _ => m.clone(),
            })
            .collect()
    };
    let maps: Vec<Vec<Map>> = factorization.maps.iter().map(keep).collect();
    concept_composites(crops, &maps, 0.5)
}
