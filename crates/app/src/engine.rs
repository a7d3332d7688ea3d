//! The model in the browser: which backend runs it, and the analyses the page shows (one
//! method, every method compared and scored, concepts). They call the same core as the CLI;
//! results come back from the device asynchronously.

use burn::tensor::Device;
use burn::tensor::Tensor;
use image::imageops::{self, FilterType};
use image::RgbImage;
use wasm_bindgen::{JsCast, JsValue};
use xai_explain::channels::ChannelByChannel;
use xai_explain::dff::{concepts_of, ActivationRows, DffError, DffOptions, NmfOn};
use xai_explain::readback::ReadbackError;
use xai_explain::{Analysis, CamError, CamMethod, CamRequest, Concepts, Target};
use xai_model::Layer;
use xai_model::{ResNet, WeightsInfo};
use xai_share::Setup;

use crate::state::{AnalysisKey, CompareKey, Compared, Comparison, Explained, GalleryPhoto, StoredModel};

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

/// `object[key]`, undefined where there is none.
fn property(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `navigator.gpu`, if the browser has WebGPU. It is still behind web-sys' unstable flag, so it is
/// looked up by name.
fn navigator_gpu() -> Option<JsValue> {
    Some(property(&web_sys::window()?.navigator(), "gpu")).filter(|gpu| !gpu.is_undefined())
}

/// The browser's WebGPU device, or why there is none.
pub async fn webgpu_device() -> Result<Device, String> {
    use burn::tensor::wgpu::WgpuBackend;
    if navigator_gpu().is_none() {
        return Err("navigator.gpu is undefined".into());
    }
    let options = Device::wgpu_options().graphics_api(WgpuBackend::WebGpu);
    options.init_async().await.map_err(|error| error.to_string())
}

/// Whether the browser's WebGPU adapter is a fallback (`GPUAdapterInfo.isFallbackAdapter`): a
/// GPU emulated on the CPU, as SwiftShader is.
async fn is_fallback_adapter() -> bool {
    let Some(gpu) = navigator_gpu() else { return false };
    let Ok(request) = property(&gpu, "requestAdapter").dyn_into::<js_sys::Function>() else { return false };
    let Ok(promise) = request.call0(&gpu).and_then(|p| p.dyn_into::<js_sys::Promise>()) else { return false };
    let Ok(adapter) = wasm_bindgen_futures::JsFuture::from(promise).await else { return false };
    property(&property(&adapter, "info"), "isFallbackAdapter").as_bool().unwrap_or(false)
}

/// WebGPU when the browser grants it on a real GPU, else burn's CPU backend compiled to wasm; the
/// third value is the technical reason WebGPU was not used. A fallback adapter is passed over:
/// on SwiftShader a forward pass took 5.3 s against 0.3 s on the CPU backend, and DFF's NMF 46 to
/// 217 times the host's (docs/benchmarks.md).
pub async fn pick_device() -> (Device, Backend, Option<String>) {
    if is_fallback_adapter().await {
        let why = "WebGPU's adapter here is a fallback, a GPU emulated on the CPU (isFallbackAdapter), slower than the CPU backend";
        return (Device::flex(), Backend::Cpu, Some(why.into()));
    }
    match webgpu_device().await {
        Ok(device) => (device, Backend::WebGpu, None),
        Err(why) => (Device::flex(), Backend::Cpu, Some(why)),
    }
}

pub struct Engine {
    pub net: ResNet,
    /// Its class names, where its weights came from and what they were converted to (for
    /// evidence).
    pub info: WeightsInfo,
    pub backend: Backend,
    /// Where the network lives, for the next model to load onto.
    pub device: Device,
    /// The visitor's own model, or `None` for the built-in one.
    pub own: Option<StoredModel>,
}

/// Why a job failed: the visitor's input, or the device, which the page answers by moving to
/// the CPU.
#[derive(Debug)]
pub enum Failure {
    Input(String),
    Device(ReadbackError),
}

impl From<CamError> for Failure {
    fn from(error: CamError) -> Self {
        match error {
            CamError::Readback(error) => Failure::Device(error),
            other => Failure::Input(other.to_string()),
        }
    }
}

pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

impl Engine {
    /// How the visitor's own model was converted, which its share links carry; `None` for the
    /// built-in one, whose conversion is the page's.
    pub fn setup(&self) -> Option<Setup> {
        let stem = self.net.architecture().stem;
        self.own.as_ref().map(|_| Setup {
            preprocessing: self.info.model.preprocessing,
            stem_stride: stem.stride,
            max_pool: stem.max_pool,
            input_size: self.info.model.input_size,
            ema: self.info.model.ema,
        })
    }

    /// The network's input from the page's crops (224 px), resized to the size the model was
    /// converted for where that is another (32 px for a CIFAR model).
    pub fn input(&self, crops: &[RgbImage]) -> Tensor<4> {
        let side = self.info.model.input_size.get();
        match crops.iter().all(|crop| crop.dimensions() == (side, side)) {
            true => self.net.input(crops),
            false => {
                let resized: Vec<RgbImage> =
                    crops.iter().map(|crop| imageops::resize(crop, side, side, FilterType::Triangle)).collect();
                self.net.input(&resized)
            }
        }
    }

    /// The model's layers, each with the side of its maps.
    pub fn layers(&self) -> Vec<(Layer, usize)> {
        let (architecture, input) = (self.net.architecture(), self.info.model.input_size.get() as usize);
        architecture.layers().iter().map(|&layer| (layer, architecture.map_side(layer, input))).collect()
    }

    /// Classifies the photo and explains the asked (or top-1) class with `method`, which needs no
    /// passes of its own, in one pass of the network.
    pub async fn analyse(
        &self,
        photo: &GalleryPhoto,
        key: AnalysisKey,
        method: &dyn CamMethod,
    ) -> Result<Explained, Failure> {
        let question = &key.question;
        let input = self.input(std::slice::from_ref(&photo.crop));
        let target = question.target();
        let start = now_ms();
        let request = CamRequest { layer: question.layer, target: &target, method, eigen_smooth: false };
        let analysis = xai_explain::analyse(&self.net, &input, request).await?.remove(0);
        Ok(self.explained(key, analysis, now_ms() - start))
    }

    /// The page's answer to `key`: the analysis' top five classes and map, made in `ms`.
    pub fn explained(&self, key: AnalysisKey, analysis: Analysis, ms: f64) -> Explained {
        let top5 = analysis.top(&self.info.model.labels, 5);
        Explained { key, top5, class: analysis.class, map: analysis.map, ms }
    }

    /// Every one-pass method's map of the photo for the key's layer and class, from one pass.
    pub async fn compare(&self, photo: &GalleryPhoto, key: CompareKey) -> Result<Comparison, Failure> {
        let input = self.input(std::slice::from_ref(&photo.crop));
        let target = key.target();
        let methods = xai_explain::methods::one_pass(key.layer, self.net.tail());
        let start = now_ms();
        let analyses = xai_explain::analyse_each(&self.net, &input, key.layer, &target, &methods, false).await?;
        let maps_ms = now_ms() - start;
        let class = analyses.first().and_then(|a| a.first()).map_or(0, |a| a.class);
        let methods = methods
            .iter()
            .zip(analyses)
            .map(|(method, mut analysis)| Compared { method: method.name(), map: analysis.remove(0).map, scores: None })
            .collect();
        Ok(Comparison { key, class, maps_ms, own_passes_ms: Vec::new(), methods })
    }

    /// `method` (one that runs passes of its own) on the photo's input, a batch of channels at a
    /// time.
    pub fn channel_by_channel<'a>(
        &'a self,
        input: &'a Tensor<4>,
        layer: Layer,
        target: &'a Target,
        method: &'a dyn CamMethod,
    ) -> Result<ChannelByChannel<'a>, Failure> {
        let request = CamRequest { layer, target, method, eigen_smooth: false };
        Ok(ChannelByChannel::start(&self.net, input, request)?)
    }

    /// The `k` concepts of the photos whose layer4 activations `rows` gathered.
    pub async fn concepts(&self, rows: ActivationRows<'_>, k: usize) -> Result<Concepts, Failure> {
        let options = DffOptions { k, ..DffOptions::default() };
        let found = concepts_of(&self.net, rows.matrix(), &self.info.model.labels, options, NmfOn::Auto).await;
        found.map_err(|e| match e {
            DffError::Readback(error) => Failure::Device(error),
            other => Failure::Input(other.to_string()),
        })
    }
}
