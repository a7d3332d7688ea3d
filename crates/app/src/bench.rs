//! The browser benchmark's entry points (bench/web): our forward pass timed in the same page that
//! runs onnxruntime-web, on the same weights and the same preprocessed demo photo; DFF's NMF on
//! the host and on WebGPU by number of photos.

use burn::tensor::{Device, Tensor};
use js_sys::{Array, Float32Array, Float64Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use xai_explain::dff::{activation_matrix, factorize_activations, DffOptions, NmfOn};
use xai_explain::readback::read_floats;
use xai_model::ResNet;

use crate::engine::{now_ms, webgpu_device};
use crate::fetch::fetch_bytes;
use crate::jobs::WEIGHTS_URL;
use crate::photo;

/// Times `runs` forward passes (logits read back to the host, as the page does) after
/// `warmup` untimed ones, on "webgpu" or "cpu". Returns `{times_ms, logits, input}`: `input`
/// is what the network saw, for the peer to run on.
#[wasm_bindgen]
pub async fn bench_forward(backend: String, warmup: u32, runs: u32) -> Result<JsValue, JsValue> {
    let device = match backend.as_str() {
        "webgpu" => webgpu_device().await?,
        "cpu" => Device::flex(),
        other => return Err(format!("unknown backend '{other}' (valid: webgpu, cpu)").into()),
    };
    let (net, input) = chelsea_on(&device).await?;

    let mut times = Vec::new();
    let mut logits = Vec::new();
    for run in 0..warmup + runs {
        let start = now_ms();
        logits = read_floats(net.forward(input.clone())).await.map_err(|e| e.to_string())?;
        if run >= warmup {
            times.push(now_ms() - start);
        }
    }
    let input = read_floats(input).await.map_err(|e| e.to_string())?;
    let result = Object::new();
    Reflect::set(&result, &"times_ms".into(), &Float64Array::from(times.as_slice()))?;
    Reflect::set(&result, &"logits".into(), &Float32Array::from(logits.as_slice()))?;
    Reflect::set(&result, &"input".into(), &Float32Array::from(input.as_slice()))?;
    Ok(result.into())
}

/// The network on `device` and the preprocessed demo photo.
async fn chelsea_on(device: &Device) -> Result<(ResNet, Tensor<4>), JsValue> {
    let weights = fetch_bytes(WEIGHTS_URL).await?;
    let net = ResNet::from_safetensors(&weights, device).map_err(|e| e.to_string())?.0;
    let crop = photo::demo("chelsea").await?.crop;
    let input = net.input(std::slice::from_ref(&crop));
    Ok((net, input))
}

/// DFF's NMF (k = 5) on WebGPU's layer4 activations of `photos` copies of the demo photo, timed
/// `runs` times on the host (the activations' readback included, as DFF runs it) and on the GPU,
/// after one untimed run each. Returns one `{photos, host_ms, gpu_ms, host, gpu}` per count, `host`
/// and `gpu` each `{rel_error, iterations}`, so the two factorisations can be checked against
/// each other.
#[wasm_bindgen]
pub async fn bench_nmf(photos: Vec<u32>, runs: u32) -> Result<JsValue, JsValue> {
    let (net, input) = chelsea_on(&webgpu_device().await?).await?;
    // One photo's activations, copied: what N copies of the photo would give, for one pass.
    let (one, _) = activation_matrix(&net, &input);
    let rows = Array::new();
    for count in photos {
        let a = Tensor::cat(vec![one.clone(); count as usize], 0);
        let row = Object::new();
        Reflect::set(&row, &"photos".into(), &count.into())?;
        for (on, name) in [(NmfOn::Host, "host"), (NmfOn::Gpu, "gpu")] {
            let factorize = || async {
                factorize_activations(a.clone(), DffOptions::default(), on).await.map_err(|e| e.to_string())
            };
            // The untimed run's outcome stands for all: every run factorises the same matrix.
            let factors = factorize().await?.factors;
            let mut times = Vec::new();
            for _ in 0..runs {
                let start = now_ms();
                factorize().await?;
                times.push(now_ms() - start);
            }
            let outcome = Object::new();
            Reflect::set(&outcome, &"rel_error".into(), &factors.rel_error.into())?;
            Reflect::set(&outcome, &"iterations".into(), &(factors.iterations as u32).into())?;
            Reflect::set(&row, &format!("{name}_ms").into(), &Float64Array::from(times.as_slice()))?;
            Reflect::set(&row, &name.into(), &outcome)?;
        }
        rows.push(&row);
    }
    Ok(rows.into())
}
