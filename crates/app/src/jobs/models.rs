//! Models: the one the page opens with, the visitor's own (converted, kept, switched, deleted),
//! and the move to the CPU when WebGPU fails.

use std::cell::Cell;

use burn::tensor::Device;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use xai_explain::readback::ReadbackError;
use xai_model::architecture::Tail;
use xai_model::labels::MAX_FILE_BYTES as MAX_LABELS_BYTES;
use xai_model::{InputSize, Layer, ResNet, WeightsError};
use xai_share::Shared;
use yew::platform::spawn_local;

use super::{let_the_page_paint, new_run, Jobs, WEIGHTS_URL};
use crate::convert::{convert_model, Options, MAX_MODEL_BYTES};
use crate::engine::{now_ms, pick_device, Backend, Engine};
use crate::fetch::{fetch_weights, file_bytes, forget_weights};
use crate::photo;
use crate::state::{settings_from_link, Action, Notice, StoredModel};
use crate::store;

/// The weights of `own` (from this browser's store) or of the built-in model (downloaded, or
/// from the cache), checked and put on `device`. A cached built-in copy that fails its checks is
/// dropped and fetched again once. Says whether the weights came from the browser.
async fn load_engine(
    device: Device,
    backend: Backend,
    own: Option<StoredModel>,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<(Engine, bool), String> {
    let damaged = |e: WeightsError| format!("the weights are damaged: {e}");
    let (net, info, cached) = match &own {
        Some(model) => {
            let bytes = store::load(&model.sha256, progress).await.map_err(|e| format!("{}: {e}", model.name))?;
            let (net, info) = ResNet::from_safetensors(&bytes, &device).map_err(damaged)?;
            (net, info, true)
        }
        None => {
            let (bytes, cached) = fetch_weights(WEIGHTS_URL, progress).await?;
            match ResNet::from_safetensors(&bytes, &device) {
                Ok((net, info)) => (net, info, cached),
                Err(_) if cached => {
                    forget_weights(WEIGHTS_URL).await;
                    let (bytes, _) = fetch_weights(WEIGHTS_URL, progress).await?;
                    let (net, info) = ResNet::from_safetensors(&bytes, &device).map_err(damaged)?;
                    (net, info, false)
                }
                Err(e) => return Err(damaged(e)),
            }
        }
    };
    // Class names as the page shows them, once for every view of them.
    let mut info = info;
    info.model.labels = info.model.labels.printable();
    Ok((Engine { net, info, backend, device, own }, cached))
}

/// The page shows every photo at 224 x 224; a model converted for another size is given each one
/// resized to its own ([`Engine::input`]), which says so.
fn input_size_notice(engine: &Engine) -> Option<Notice> {
    let size = engine.info.model.input_size.get();
    (size != InputSize::STANDARD.get()).then(|| Notice {
        text: format!(
            "This model takes {size} x {size} photos: the page shows each at 224 x 224 and gives the model a copy resized to {size} x {size}, so its answers can differ slightly from `xai`'s, which resizes the original."
        ),
        details: None,
    })
}

/// How a model load ended.
#[derive(PartialEq)]
enum Loaded {
    Yes,
    /// A newer load started before it ended.
    Overtaken,
    /// It failed, and said why.
    Failed,
}

impl Jobs {
    /// Once, when the page opens: the list of own models, the model a share link names (else
    /// the one last used) on the best device, then the link.
    pub fn start(&self) {
        let jobs = self.clone();
        spawn_local(async move {
            let index = store::index().await;
            jobs.send(Action::ModelsListed(index.models.clone()));
            jobs.listen_for_links();
            let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
            let link = (hash.len() > 1).then(|| Shared::from_fragment(&hash));
            let own = match &link {
                Some(Ok(Shared { model: Some(wanted), .. })) => {
                    index.find(&wanted.sha256).or(index.active_model()).cloned()
                }
                // A link made with the built-in model opens with it, whichever was used last.
                Some(Ok(Shared { model: None, .. })) => None,
                _ => index.active_model().cloned(),
            };
            let (device, backend, why_cpu) = pick_device().await;
            let notice = why_cpu.map(|why| Notice {
                text: "This browser offers no GPU through WebGPU, so xai-lens runs on the CPU: expect about a second per photo."
                    .into(),
                details: Some(why),
            });
            let Some(loaded) = jobs.load_else(device, backend, own, notice, None).await else { return };
            match link {
                Some(Err(error)) => jobs.send(Action::Error(error.to_string())),
                // The link's model is not kept here, or would not load: the view waits for it.
                Some(Ok(Shared { model: Some(wanted), .. }))
                    if loaded.as_ref().is_none_or(|model| model.sha256 != wanted.sha256) =>
                {
                    jobs.memory.pending_link.replace(Some((hash.clone(), Some(wanted.sha256.clone()))));
                    jobs.send(Action::WantModel(wanted));
                }
                Some(Ok(_)) => jobs.open_link(&hash).await,
                None => {}
            }
        });
    }

    /// Follows each share link opened in this tab from now on ([`Jobs::follow_link`]).
    fn listen_for_links(&self) {
        let jobs = self.clone();
        let follow = Closure::<dyn Fn()>::new(move || jobs.follow_link());
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("hashchange", follow.as_ref().unchecked_ref());
        }
        // The listener lives as long as the page.
        follow.forget();
    }

    /// Loads a model and makes it the page's (and this browser's choice for its next visits);
    /// if it fails, says why and loads `fallback` (one that loaded before) instead, unless that
    /// is the same. Says which model was loaded, if one was.
    async fn load_else(
        &self,
        device: Device,
        backend: Backend,
        own: Option<StoredModel>,
        notice: Option<Notice>,
        fallback: Option<StoredModel>,
    ) -> Option<Option<StoredModel>> {
        match self.load(device.clone(), backend, own.clone(), notice.clone()).await {
            Loaded::Yes => {
                let in_use = own.as_ref().map(|m| m.sha256.as_str());
                store::release_held_unless(in_use);
                store::set_active(in_use).await;
                Some(own)
            }
            Loaded::Overtaken => None,
            Loaded::Failed if own == fallback => None,
            Loaded::Failed => {
                self.send(Action::SwitchModel(fallback.clone()));
                (self.load(device, backend, fallback.clone(), notice).await == Loaded::Yes).then_some(fallback)
            }
        }
    }

    /// Loads a model and makes it the page's. A load overtaken by a newer one ends quietly; one
    /// that fails says why.
    async fn load(&self, device: Device, backend: Backend, own: Option<StoredModel>, notice: Option<Notice>) -> Loaded {
        let load = self.start_load();
        let start = now_ms();
        let last = Cell::new(0u64);
        let progress = |loaded: u64, total: Option<u64>| {
            // Re-render every 256 KB, not on every chunk, and not for a load overtaken.
            let current = self.memory.loads.get() == load;
            if current && (loaded - last.get() > 1 << 18 || Some(loaded) == total) {
                last.set(loaded);
                self.send(Action::ModelProgress { loaded, total });
            }
        };
        let loaded = load_engine(device, backend, own.clone(), &progress).await;
        if self.memory.loads.get() != load {
            return Loaded::Overtaken;
        }
        match loaded {
            Ok((engine, cached)) => {
                let (classes, model_notice, layers, setup) =
                    (engine.info.model.labels.len(), input_size_notice(&engine), engine.layers(), engine.setup());
                let linear_head = engine.net.tail().linear_head;
                self.engine_ready(engine);
                let ms = now_ms() - start;
                let ready = Action::ModelReady {
                    backend: backend.name(),
                    ms,
                    cached,
                    notice,
                    model_notice,
                    own: own.clone(),
                    setup,
                    classes,
                    layers,
                    linear_head,
                };
                self.send(ready);
                // A link that waited for this model opens now.
                let waiting = self.memory.pending_link.borrow().clone();
                if let Some((hash, wanted)) = waiting
                    && wanted.as_deref() == own.as_ref().map(|m| m.sha256.as_str())
                {
                    self.memory.pending_link.replace(None);
                    self.open_link(&hash).await;
                }
                Loaded::Yes
            }
            Err(error) => {
                self.send(Action::ModelFailed(error));
                Loaded::Failed
            }
        }
    }

    /// A share link opened in a tab that shows the page already (pasted into its address bar,
    /// say): only the fragment changed, so the browser does not load the page again. It opens
    /// as on a visit, once the model it names is in use (switched to, or waited for).
    pub fn follow_link(&self) {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
        if hash.len() <= 1 {
            return;
        }
        let jobs = self.clone();
        spawn_local(async move {
            let wanted = match Shared::from_fragment(&hash) {
                Ok(link) => link.model,
                Err(error) => return jobs.send(Action::Error(error.to_string())),
            };
            let wanted_sha = wanted.as_ref().map(|m| m.sha256.clone());
            let ready = jobs.memory.ready_engine.borrow().clone();
            if ready.is_some_and(|engine| engine.own.as_ref().map(|m| &m.sha256) == wanted_sha.as_ref()) {
                return jobs.open_link(&hash).await;
            }
            jobs.memory.pending_link.replace(Some((hash, wanted_sha)));
            match wanted {
                None => jobs.use_model(None),
                Some(wanted) => match store::index().await.find(&wanted.sha256).cloned() {
                    Some(kept) => jobs.use_model(Some(kept)),
                    None => jobs.send(Action::WantModel(wanted)),
                },
            }
        });
    }

    /// Opens a link's photo and settings, unless another photo was opened since it began: a
    /// demo clicked just before a link pasted (its photo still on its way) does not take over.
    async fn open_link(&self, hash: &str) {
        let open = new_run(&self.memory.opens);
        let opened = async {
            let link = Shared::from_fragment(hash).map_err(|e| e.to_string())?;
            let tail = self.memory.ready_engine.borrow().as_ref().map_or(Tail::linear(Layer::Layer4), |e| e.net.tail());
            let settings = settings_from_link(&link, tail)?;
            Ok::<_, String>((photo::from_link(&link.photo).await?, settings))
        };
        let opened = opened.await;
        if self.memory.opens.get() != open {
            return;
        }
        match opened {
            Ok((photo, settings)) => self.send(Action::OpenLink(photo, settings)),
            Err(error) => self.send(Action::Error(error)),
        }
    }

    /// Switches to one of the visitor's models, or back to the built-in one (`None`), on the
    /// device in use; if that fails, the model in use before (else the built-in one) comes back.
    pub fn use_model(&self, own: Option<StoredModel>) {
        // The model ready now, else the one of the render that asked (a load is under way).
        let engine = self.memory.ready_engine.borrow().clone().or_else(|| (*self.engine).clone());
        let jobs = self.clone();
        spawn_local(async move {
            jobs.stop_device_jobs();
            jobs.send(Action::SwitchModel(own.clone()));
            let (device, backend, fallback) = match engine {
                Some(engine) => (engine.device.clone(), engine.backend, engine.own.clone()),
                None => {
                    let (device, backend, _) = pick_device().await;
                    (device, backend, None)
                }
            };
            jobs.load_else(device, backend, own, None, fallback).await;
        });
    }

    /// Converts a model file the visitor picked (with its class names, if given, and what the
    /// conversion options say), keeps it in this browser and uses it. Steps are reported as they
    /// start; `cancel_conversion` stops it between them.
    pub fn add_model(&self, model: web_sys::File, labels: Option<web_sys::File>, options: Options) {
        let conversion = new_run(&self.memory.conversions);
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.conversions.get() == conversion;
            let name = xai_model::printable(&model.name());
            let failed = |error: String| Action::ConvertFailed(format!("{name}: {error}"));
            if model.size() > MAX_MODEL_BYTES {
                let mb = MAX_MODEL_BYTES / 1e6;
                return jobs
                    .send(failed(format!("the file is over {mb:.0} MB; convert it with `xai convert` instead")));
            }
            let settings = match options.read() {
                Ok(settings) => settings,
                Err(error) => return jobs.send(failed(error)),
            };
            jobs.send(Action::Converting(format!("Reading {name} ({:.1} MB)", model.size() / 1e6)));
            let bytes = match file_bytes(&model).await {
                Ok(bytes) => bytes,
                Err(error) => return jobs.send(failed(error)),
            };
            let labels = match &labels {
                Some(file) if file.size() > MAX_LABELS_BYTES as f64 => {
                    let mb = MAX_LABELS_BYTES / 1_000_000;
                    return jobs.send(failed(format!(
                        "{}: over {mb} MB, more than class names take",
                        xai_model::printable(&file.name())
                    )));
                }
                Some(file) => match file_bytes(file).await {
                    Ok(bytes) => Some(bytes),
                    Err(error) => return jobs.send(failed(format!("{}: {error}", xai_model::printable(&file.name())))),
                },
                None => None,
            };
            if !current() {
                return;
            }
            jobs.send(Action::Converting(format!("Converting {name}")));
            let_the_page_paint().await;
            let start = now_ms();
            let converted = convert_model(&name, &bytes, labels, settings);
            let ms = now_ms() - start;
            drop(bytes);
            let (weights, stored, notes) = match converted {
                Ok(converted) if current() => converted,
                Ok(_) => return,
                Err(error) => return jobs.send(failed(error)),
            };
            jobs.send(Action::Converting("Keeping it in this browser".into()));
            let kept_before = store::index().await.find(&stored.sha256).is_some();
            // Cancelled by now: the copy kept before (the same file, other class names) stays.
            if !current() {
                return;
            }
            // A model the browser will not keep is still used, for this visit.
            let unkept = store::save(&stored, &weights).await.err();
            if !current() {
                // Cancelled while it was being kept: it must not turn up on the next visit.
                if !kept_before && unkept.is_none() {
                    let _ = store::delete(&stored.sha256).await;
                }
                return;
            }
            match unkept {
                Some(_) => store::hold_for_this_visit(&stored.sha256, weights),
                None => store::hand_to_next_load(&stored.sha256, weights),
            }
            jobs.send(Action::Converted { model: stored.clone(), ms, unkept, notes });
            jobs.use_model(Some(stored));
        });
    }

    pub fn cancel_conversion(&self) {
        new_run(&self.memory.conversions);
        self.send(Action::ConvertCancelled);
    }

    /// Removes one of the visitor's models from this browser; the page goes back to the
    /// built-in model if it was in use.
    pub fn delete_model(&self, model: StoredModel) {
        let jobs = self.clone();
        spawn_local(async move {
            if let Err(error) = store::delete(&model.sha256).await {
                return jobs.send(Action::Error(format!("{}: {error}", model.name)));
            }
            jobs.send(Action::ModelDeleted(model.sha256.clone()));
            if jobs.engine.as_ref().is_some_and(|e| e.own.as_ref() == Some(&model)) {
                jobs.use_model(None);
            }
        });
    }

    /// A GPU that stops answering (a lost WebGPU device) hands the page to the CPU: the weights
    /// come back from Cache Storage and the new model answers the current photo again. Says
    /// whether the failure is handled that way (it is not on the CPU itself).
    pub(super) fn move_to_cpu(&self, engine: &Engine, failure: &ReadbackError) -> bool {
        if engine.backend != Backend::WebGpu {
            return false;
        }
        if self.memory.moving_to_cpu.replace(true) {
            return true;
        }
        self.stop_device_jobs();
        self.send(Action::DeviceLost(Notice {
            text: "WebGPU stopped working, so the page moved to the CPU: expect about a second per photo.".into(),
            details: Some(failure.0.clone()),
        }));
        let (jobs, own) = (self.clone(), engine.own.clone());
        // A load still under way on the lost GPU must not take over after this one.
        let load = self.start_load();
        spawn_local(async move {
            let start = now_ms();
            let loaded = load_engine(Device::flex(), Backend::Cpu, own.clone(), &|_, _| {}).await;
            if jobs.memory.loads.get() != load {
                return;
            }
            match loaded {
                Ok((cpu, cached)) => {
                    let (classes, model_notice, layers, setup) =
                        (cpu.info.model.labels.len(), input_size_notice(&cpu), cpu.layers(), cpu.setup());
                    let linear_head = cpu.net.tail().linear_head;
                    jobs.engine_ready(cpu);
                    let ms = now_ms() - start;
                    jobs.send(Action::ModelReady {
                        backend: Backend::Cpu.name(),
                        ms,
                        cached,
                        notice: None,
                        model_notice,
                        own,
                        setup,
                        classes,
                        layers,
                        linear_head,
                    });
                }
                Err(error) => jobs.send(Action::ModelFailed(format!("could not move to the CPU: {error}"))),
            }
        });
        true
    }
}
