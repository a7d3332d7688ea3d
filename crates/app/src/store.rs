//! The visitor's own models, kept in this browser's Cache Storage (never sent anywhere): each
//! converted weight file under a key of its own, and an index that lists them and says which is
//! in use, so the list shows without reading the files. A model this browser has no room for
//! is held in memory instead, for this visit.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

use crate::fetch::{js_error, open_cache, read_body};
use crate::state::StoredModel;

/// Bump when the weight file's format changes, so stored models are not misread.
const CACHE_NAME: &str = "xai-lens-own-models-v1";
/// Keys are URLs of the page's origin that are never fetched: Cache Storage only files them.
const INDEX: &str = "own-models/index.json";

thread_local! {
    /// A converted model the browser would not keep (no room, or no Cache Storage), by its
    /// SHA-256: used until another model is, or the page closes.
    static THIS_VISIT: RefCell<Option<(String, Rc<Vec<u8>>)>> = const { RefCell::new(None) };
    /// A model just converted and kept, by its SHA-256: handed to the next load, which it spares
    /// reading the file back from Cache Storage (about a second of a ResNet-50's 3.5).
    static JUST_KEPT: RefCell<Option<(String, Vec<u8>)>> = const { RefCell::new(None) };
}

/// Hands a model just kept to the next load, if it loads that model; any other load lets it go.
pub fn hand_to_next_load(sha256: &str, weights: Vec<u8>) {
    JUST_KEPT.with(|kept| kept.replace(Some((sha256.to_string(), weights))));
}

/// Holds a converted model in memory for this visit, in place of one held before.
pub fn hold_for_this_visit(sha256: &str, weights: Vec<u8>) {
    THIS_VISIT.with(|held| held.replace(Some((sha256.to_string(), Rc::new(weights)))));
}

/// Lets go of the model held for this visit once another is in use: it cannot be chosen again
/// (it is not listed), and may be hundreds of MB.
pub fn release_held_unless(in_use: Option<&str>) {
    THIS_VISIT.with(|held| {
        if held.borrow().as_ref().is_some_and(|(sha256, _)| Some(sha256.as_str()) != in_use) {
            held.replace(None);
        }
    });
}

fn key(sha256: &str) -> String {
    format!("own-models/{sha256}.safetensors")
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    /// The model in use, by its SHA-256; `None` is the built-in one.
    pub active: Option<String>,
    pub models: Vec<StoredModel>,
}

impl Index {
    pub fn active_model(&self) -> Option<&StoredModel> {
        let active = self.active.as_deref()?;
        self.find(active)
    }

    pub fn find(&self, sha256: &str) -> Option<&StoredModel> {
        self.models.iter().find(|m| m.sha256 == sha256)
    }
}

async fn cache() -> Result<Cache, String> {
    open_cache(CACHE_NAME).await.ok_or_else(|| "this browser does not let the page keep files (Cache Storage)".into())
}

async fn read(cache: &Cache, key: &str, progress: &dyn Fn(u64, Option<u64>)) -> Option<Vec<u8>> {
    let found = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let response: Response = found.dyn_into().ok()?;
    read_body(&response, progress).await.ok()
}

async fn write(cache: &Cache, key: &str, bytes: &[u8]) -> Result<(), String> {
    let body = Uint8Array::from(bytes);
    let response = Response::new_with_opt_buffer_source(Some(&*body)).map_err(js_error)?;
    JsFuture::from(cache.put_with_str(key, &response)).await.map_err(|e| {
        let why = js_error(e);
        if why.to_lowercase().contains("quota") {
            format!("this browser has no room left to keep it ({why}): delete own models you no longer use, above, or convert it with `xai convert`")
        } else {
            format!("could not keep it: {why}")
        }
    })?;
    Ok(())
}

/// The list, or an empty one where there is none yet (or it cannot be read).
pub async fn index() -> Index {
    let Ok(cache) = cache().await else { return Index::default() };
    read(&cache, INDEX, &|_, _| {}).await.and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

async fn write_index(cache: &Cache, index: &Index) -> Result<(), String> {
    write(cache, INDEX, &serde_json::to_vec(index).expect("plain data serialises")).await
}

/// Keeps a converted model, replacing one converted from the same file.
pub async fn save(model: &StoredModel, weights: &[u8]) -> Result<(), String> {
    let cache = cache().await?;
    write(&cache, &key(&model.sha256), weights).await?;
    let mut index = index().await;
    index.models.retain(|m| m.sha256 != model.sha256);
    index.models.push(model.clone());
    write_index(&cache, &index).await
}

/// A kept model's weights, reporting the bytes read so far (a large model takes seconds).
pub async fn load(sha256: &str, progress: &dyn Fn(u64, Option<u64>)) -> Result<Vec<u8>, String> {
    let held = THIS_VISIT.with(|held| held.borrow().clone());
    if let Some((_, weights)) = held.filter(|(held, _)| held == sha256) {
        return Ok(weights.to_vec());
    }
    if let Some((_, weights)) = JUST_KEPT.with(RefCell::take).filter(|(kept, _)| kept == sha256) {
        return Ok(weights);
    }
    let cache = cache().await?;
    read(&cache, &key(sha256), progress)
        .await
        .ok_or_else(|| "this browser no longer has it: load its file again".into())
}

pub async fn delete(sha256: &str) -> Result<(), String> {
    let cache = cache().await?;
    let _ = JsFuture::from(cache.delete_with_str(&key(sha256))).await;
    let mut index = index().await;
    index.models.retain(|m| m.sha256 != sha256);
    if index.active.as_deref() == Some(sha256) {
        index.active = None;
    }
    write_index(&cache, &index).await
}

/// Remembers the model in use for the next visit.
pub async fn set_active(sha256: Option<&str>) {
    let Ok(cache) = cache().await else { return };
    let mut index = index().await;
    index.active = sha256.map(str::to_string);
    let _ = write_index(&cache, &index).await;
}
