//! The page's asynchronous work: loading the model (and moving to the CPU when WebGPU fails),
//! opening photos and share links, analysing and factorising. Each job reports through
//! [`Action`]s; the state decides whether its result is still wanted.

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use xai_explain::readback::ReadbackError;
use xai_model::ResNet;
use xai_share::Shared;
use yew::platform::spawn_local;
use yew::{UseReducerDispatcher, UseStateHandle};

use crate::engine::{now_ms, pick_device, Backend, Engine, Failure};
use crate::fetch::{fetch_weights, file_bytes, forget_weights};
use crate::photo::{self, MAX_UPLOAD_BYTES};
use crate::state::{settings_from_link, Action, AnalysisKey, AppState, FactorizeKey, GalleryPhoto, Notice};

pub const WEIGHTS_URL: &str = "resnet50-int8.safetensors";

/// Downloads (or reads from the cache) and checks the weights, and puts them on `device`; a
/// cached copy that fails its checks is dropped and fetched again once. Says whether the
/// weights came from the cache.
async fn load_engine(
    device: Device,
    backend: Backend,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<(Engine, bool), String> {
    let (bytes, cached) = fetch_weights(WEIGHTS_URL, progress).await?;
    let (net, info) = match ResNet::from_safetensors(&bytes, &device) {
        Ok(loaded) => loaded,
        Err(_) if cached => {
            forget_weights(WEIGHTS_URL).await;
            let (bytes, _) = fetch_weights(WEIGHTS_URL, progress).await?;
            ResNet::from_safetensors(&bytes, &device).map_err(|e| format!("the weights are damaged: {e}"))?
        }
        Err(e) => return Err(format!("the weights are damaged: {e}")),
    };
    Ok((Engine { net, labels: info.model.labels, backend }, cached))
}

/// Starts jobs; cheap to clone into callbacks.
#[derive(Clone)]
pub struct Jobs {
    dispatch: UseReducerDispatcher<AppState>,
    engine: UseStateHandle<Option<Rc<Engine>>>,
    /// Set once the page has begun moving to the CPU, so that only the first of the jobs
    /// failing on the lost GPU moves it.
    moving_to_cpu: Rc<Cell<bool>>,
}

impl Jobs {
    pub fn new(
        dispatch: UseReducerDispatcher<AppState>,
        engine: UseStateHandle<Option<Rc<Engine>>>,
        moving_to_cpu: Rc<Cell<bool>>,
    ) -> Self {
        Self { dispatch, engine, moving_to_cpu }
    }

    fn send(&self, action: Action) {
        self.dispatch.dispatch(action);
    }

    /// Once, when the page opens: the model on the best device, then the share link in the URL.
    pub fn start(&self) {
        let jobs = self.clone();
        spawn_local(async move {
            let start = now_ms();
            let last = Cell::new(0u64);
            let progress = |loaded: u64, total: Option<u64>| {
                // Re-render every 256 KB, not on every chunk.
                if loaded - last.get() > 1 << 18 || Some(loaded) == total {
                    last.set(loaded);
                    jobs.send(Action::ModelProgress { loaded, total });
                }
            };
            let (device, backend, why_cpu) = pick_device().await;
            match load_engine(device, backend, &progress).await {
                Ok((engine, cached)) => {
                    let notice = why_cpu.map(|why| Notice {
                        text:
                            "This browser has no WebGPU, so xai-lens runs on the CPU: expect about a second per photo."
                                .into(),
                        details: Some(why),
                    });
                    jobs.engine.set(Some(Rc::new(engine)));
                    jobs.send(Action::ModelReady { backend: backend.name(), ms: now_ms() - start, cached, notice });
                }
                Err(error) => return jobs.send(Action::ModelFailed(error)),
            }
            let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
            if hash.len() > 1 {
                jobs.open_link(&hash).await;
            }
        });
    }

    async fn open_link(&self, hash: &str) {
        let opened = async {
            let link = Shared::from_fragment(hash).map_err(|e| e.to_string())?;
            let settings = settings_from_link(&link)?;
            Ok::<_, String>((photo::from_link(&link.photo).await?, settings))
        };
        match opened.await {
            Ok((photo, settings)) => self.send(Action::OpenLink(photo, settings)),
            Err(error) => self.send(Action::Error(error)),
        }
    }

    pub fn open_demo(&self, name: &'static str) {
        let jobs = self.clone();
        spawn_local(async move {
            match photo::demo(name).await {
                Ok(photo) => jobs.send(Action::AddPhoto(photo)),
                Err(error) => jobs.send(Action::Error(error)),
            }
        });
    }

    /// The first of the files picked, dropped or pasted.
    pub fn open_files(&self, files: web_sys::FileList) {
        let Some(file) = files.get(0) else { return };
        let jobs = self.clone();
        spawn_local(async move {
            let name = file.name();
            if file.size() > MAX_UPLOAD_BYTES {
                return jobs.send(Action::Error(format!("{name}: the file is over 200 MB")));
            }
            let opened = match file_bytes(&file).await {
                Ok(bytes) => photo::upload(&name, &bytes),
                Err(error) => Err(format!("{name}: {error}")),
            };
            match opened {
                Ok(photo) => jobs.send(Action::AddPhoto(photo)),
                Err(error) => jobs.send(Action::Error(error)),
            }
        });
    }

    pub fn analyse(&self, engine: Rc<Engine>, photo: Rc<GalleryPhoto>, key: AnalysisKey) {
        self.send(Action::AnalysisStarted);
        let jobs = self.clone();
        spawn_local(async move {
            let failed = |error: String| Action::Analysed(Err((key.clone(), error)));
            match engine.analyse(&photo, key.clone()).await {
                Ok(explained) => jobs.send(Action::Analysed(Ok(explained))),
                Err(Failure::Input(error)) => jobs.send(failed(format!("{}: {error}", photo.name))),
                Err(Failure::Device(error)) => {
                    if !jobs.move_to_cpu(engine.backend, &error) {
                        jobs.send(failed(error.to_string()));
                    }
                }
            }
        });
    }

    pub fn factorize(&self, engine: Rc<Engine>, key: FactorizeKey) {
        self.send(Action::FactorizeStarted(key.clone()));
        let jobs = self.clone();
        spawn_local(async move {
            let crops: Vec<_> = key.photos.iter().map(|p| p.crop.clone()).collect();
            let result = match engine.factorize(&crops, key.k).await {
                Ok(concepts) => Ok(Rc::new(concepts)),
                Err(Failure::Input(error)) => Err(error),
                Err(Failure::Device(error)) if jobs.move_to_cpu(engine.backend, &error) => return,
                Err(Failure::Device(error)) => Err(error.to_string()),
            };
            jobs.send(Action::Factorized(key, result));
        });
    }

    /// A GPU that stops answering (a lost WebGPU device) hands the page to the CPU: the weights
    /// come back from Cache Storage and the new model answers the current photo again. Says
    /// whether the failure is handled that way (it is not on the CPU itself).
    fn move_to_cpu(&self, backend: Backend, failure: &ReadbackError) -> bool {
        if backend != Backend::WebGpu {
            return false;
        }
        if self.moving_to_cpu.replace(true) {
            return true;
        }
        self.send(Action::DeviceLost(Notice {
            text: "WebGPU stopped working, so the page moved to the CPU: expect about a second per photo.".into(),
            details: Some(failure.0.clone()),
        }));
        let jobs = self.clone();
        spawn_local(async move {
            let start = now_ms();
            match load_engine(Device::flex(), Backend::Cpu, &|_, _| {}).await {
                Ok((cpu, cached)) => {
                    jobs.engine.set(Some(Rc::new(cpu)));
                    let ms = now_ms() - start;
                    jobs.send(Action::ModelReady { backend: Backend::Cpu.name(), ms, cached, notice: None });
                }
                Err(error) => jobs.send(Action::ModelFailed(format!("could not move to the CPU: {error}"))),
            }
        });
        true
    }
}
