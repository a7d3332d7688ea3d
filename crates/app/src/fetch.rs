//! Static files from the page's own origin: the weights (with progress, kept in Cache Storage so
//! a second visit starts at once), labels and demo photos. Nothing else is ever requested.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, Response};

/// Bump when the weight file changes, so visitors drop the old copy.
const CACHE_NAME: &str = "xai-lens-weights-v2";

/// A thrown JavaScript value as text: a string itself, an error (or DOMException) its message,
/// anything else as JSON (an error's JSON is a bare `{}`).
pub fn js_error(value: JsValue) -> String {
    let message = || Reflect::get(&value, &"message".into()).ok()?.as_string().filter(|m| !m.is_empty());
    value
        .as_string()
        .or_else(message)
        .or_else(|| js_sys::JSON::stringify(&value).ok().and_then(|s| s.as_string()))
        .unwrap_or_default()
}

async fn response(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(url)).await.map_err(js_error)?.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    Ok(response)
}

/// Reads a response body chunk by chunk, reporting (bytes so far, total if known).
pub async fn read_body(response: &Response, progress: &dyn Fn(u64, Option<u64>)) -> Result<Vec<u8>, String> {
    let total = response.headers().get("content-length").ok().flatten().and_then(|l| l.parse().ok());
    let body = response.body().ok_or("empty response")?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js_error)?;
        if Reflect::get(&chunk, &"done".into()).map_err(js_error)?.as_bool().unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(js_error)?.unchecked_into();
        bytes.extend(value.to_vec());
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}

/// A small static file, whole.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    read_body(&response(url).await?, &|_, _| {}).await
}

/// One of the page's caches in Cache Storage, if the browser gives it.
pub async fn open_cache(name: &str) -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(name)).await.ok().map(JsCast::unchecked_into)
}

async fn cache() -> Option<Cache> {
    open_cache(CACHE_NAME).await
}

/// The weights from Cache Storage if there, else from the network (then cached). Returns the
/// bytes and whether they came from the cache.
pub async fn fetch_weights(url: &str, progress: &dyn Fn(u64, Option<u64>)) -> Result<(Vec<u8>, bool), String> {
    let cache = cache().await;
    if let Some(cache) = &cache {
        let cached = JsFuture::from(cache.match_with_str(url)).await.unwrap_or(JsValue::UNDEFINED);
        if let Ok(cached) = cached.dyn_into::<Response>() {
            return Ok((read_body(&cached, progress).await?, true));
        }
    }
    let mut bytes = read_body(&response(url).await?, progress).await?;
    if let Some(cache) = &cache
        && let Ok(copy) = Response::new_with_opt_u8_array(Some(&mut bytes))
    {
        let _ = JsFuture::from(cache.put_with_str(url, &copy)).await;
    }
    Ok((bytes, false))
}

/// Drops the cached weights, after they failed their checks.
pub async fn forget_weights(url: &str) {
    if let Some(cache) = cache().await {
        let _ = JsFuture::from(cache.delete_with_str(url)).await;
    }
}

/// The bytes of a file the visitor picked, dropped or pasted.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer()).await.map_err(js_error)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}
