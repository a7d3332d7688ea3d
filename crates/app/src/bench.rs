//! The browser benchmark's entry point (bench/web): our forward pass timed in the same page that
//! runs onnxruntime-web, on the same weights and the same preprocessed demo photo.

use burn::tensor::Device;
use js_sys::{Float32Array, Float64Array, Object, Reflect};
use wasm_bindgen::prelude::*;
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
    let weights = fetch_bytes(WEIGHTS_URL).await?;
    let net = ResNet::from_safetensors(&weights, &device).map_err(|e| e.to_string())?.0;
    let crop = photo::demo("chelsea").await?.crop;
    let input = net.input(std::slice::from_ref(&crop));

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
