//! The page's asynchronous work: loading a model (the built-in one or the visitor's own, and
//! moving to the CPU when WebGPU fails), converting and keeping the visitor's models, opening
//! photos and share links, analysing, comparing the methods and factorising. Each job reports
//! through [`Action`]s; the state decides whether its result is still wanted.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use burn::tensor::Device;
use wasm_bindgen_futures::JsFuture;
use xai_audit::html::png_data_url;
use xai_audit::{compute, Photo as AuditedPhoto, Report};
use xai_explain::readback::ReadbackError;
use xai_explain::sanity::SanityCheck;
use xai_explain::scoring::Scorer;
use xai_explain::{CamError, CamMethod, Map};
use xai_model::{InputSize, ResNet, WeightsError};
use xai_share::Shared;
use yew::platform::spawn_local;
use yew::{UseReducerDispatcher, UseStateHandle};

use crate::convert::{convert_model, MAX_MODEL_BYTES};
use crate::engine::{now_ms, pick_device, Backend, Engine, Failure};
use crate::fetch::{fetch_weights, file_bytes, forget_weights};
use crate::folder::FolderFiles;
use crate::photo;
use crate::state::{
    settings_from_link, Action, AnalysisKey, AppState, AuditStage, CompareKey, CompareProgress, Compared, Comparison,
    FactorizeKey, GalleryPhoto, Notice, SanityReport, ScoreCost, StoredModel,
};
use crate::store;

pub const WEIGHTS_URL: &str = "resnet50-int8.safetensors";

/// The sanity check's random weights and class: the same for every visitor, as in `xai sanity`.
const SANITY_SEED: u64 = 0;

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
            let bytes = store::load(&model.sha256).await.map_err(|e| format!("{}: {e}", model.name))?;
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
    Ok((Engine { net, model: info.model, backend, device, own }, cached))
}

/// Lets the browser paint what was dispatched before a step that holds the thread.
async fn let_the_page_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// The number of a new run of the jobs `runs` counts: a newer run, or a cancel, moves the count
/// on, and a run that sees another number stops.
fn new_run(runs: &Cell<u64>) -> u64 {
    runs.set(runs.get() + 1);
    runs.get()
}

/// What jobs share across renders (the page keeps one, see `app`).
#[derive(Default)]
pub struct JobsMemory {
    /// Set once the page has begun moving to the CPU, so that only the first of the jobs
    /// failing on the lost GPU moves it.
    moving_to_cpu: Cell<bool>,
    /// Count model loads and conversions: only the newest of each may finish, so a cancelled
    /// conversion or a model switched away from never takes over.
    loads: Cell<u64>,
    conversions: Cell<u64>,
    /// Count comparisons and sanity checks, so that a cancelled one (or one a newer one
    /// replaced) stops.
    comparisons: Cell<u64>,
    sanity_checks: Cell<u64>,
    audits: Cell<u64>,
    /// The audited folder's files by path, to open one in the single-photo view.
    audited_files: RefCell<HashMap<String, web_sys::File>>,
    /// A share link waiting for the model it was made with: its fragment, and the model's
    /// SHA-256.
    pending_link: RefCell<Option<(String, String)>>,
}

/// Starts jobs; cheap to clone into callbacks. Made at each render, so `engine` is the
/// model of that render.
#[derive(Clone)]
pub struct Jobs {
    dispatch: UseReducerDispatcher<AppState>,
    engine: UseStateHandle<Option<Rc<Engine>>>,
    memory: Rc<JobsMemory>,
}

impl Jobs {
    pub fn new(
        dispatch: UseReducerDispatcher<AppState>,
        engine: UseStateHandle<Option<Rc<Engine>>>,
        memory: Rc<JobsMemory>,
    ) -> Self {
        Self { dispatch, engine, memory }
    }

    fn send(&self, action: Action) {
        self.dispatch.dispatch(action);
    }

    /// Once, when the page opens: the list of own models, the model a share link names (else
    /// the one last used) on the best device, then the link.
    pub fn start(&self) {
        let jobs = self.clone();
        spawn_local(async move {
            let index = store::index().await;
            jobs.send(Action::ModelsListed(index.models.clone()));
            let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
            let link = (hash.len() > 1).then(|| Shared::from_fragment(&hash));
            let own = match &link {
                Some(Ok(Shared { model: Some(wanted), .. })) => match index.find(&wanted.sha256) {
                    Some(model) => Some(model.clone()),
                    None => {
                        jobs.send(Action::WantModel(wanted.clone()));
                        jobs.memory.pending_link.replace(Some((hash.clone(), wanted.sha256.clone())));
                        index.active_model().cloned()
                    }
                },
                _ => index.active_model().cloned(),
            };
            let (device, backend, why_cpu) = pick_device().await;
            let notice = why_cpu.map(|why| Notice {
                text: "This browser offers no GPU through WebGPU, so xai-lens runs on the CPU: expect about a second per photo."
                    .into(),
                details: Some(why),
            });
            if !jobs.load(device, backend, own, notice).await {
                return;
            }
            match link {
                Some(Err(error)) => jobs.send(Action::Error(error.to_string())),
                Some(Ok(_)) if jobs.memory.pending_link.borrow().is_none() => jobs.open_link(&hash).await,
                _ => {}
            }
        });
    }

    /// Loads a model and makes it the page's; says whether it did. A load overtaken by a newer
    /// one ends quietly.
    async fn load(&self, device: Device, backend: Backend, own: Option<StoredModel>, notice: Option<Notice>) -> bool {
        let load = self.memory.loads.get() + 1;
        self.memory.loads.set(load);
        let start = now_ms();
        let last = Cell::new(0u64);
        let progress = |loaded: u64, total: Option<u64>| {
            // Re-render every 256 KB, not on every chunk.
            if loaded - last.get() > 1 << 18 || Some(loaded) == total {
                last.set(loaded);
                self.send(Action::ModelProgress { loaded, total });
            }
        };
        let loaded = load_engine(device, backend, own.clone(), &progress).await;
        if self.memory.loads.get() != load {
            return false;
        }
        match loaded {
            Ok((engine, cached)) => {
                self.engine.set(Some(Rc::new(engine)));
                let ms = now_ms() - start;
                self.send(Action::ModelReady { backend: backend.name(), ms, cached, notice, own: own.clone() });
                // A link that waited for this model opens now.
                let waiting = self.memory.pending_link.borrow().clone();
                if let (Some((hash, wanted)), Some(own)) = (waiting, own)
                    && wanted == own.sha256
                {
                    self.memory.pending_link.replace(None);
                    self.open_link(&hash).await;
                }
                true
            }
            Err(error) => {
                self.send(Action::ModelFailed(error));
                false
            }
        }
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

    /// Switches to one of the visitor's models, or back to the built-in one (`None`), on the
    /// device in use.
    pub fn use_model(&self, own: Option<StoredModel>) {
        let (jobs, engine) = (self.clone(), (*self.engine).clone());
        spawn_local(async move {
            jobs.send(Action::SwitchModel(own.clone()));
            store::set_active(own.as_ref().map(|m| m.sha256.as_str())).await;
            let (device, backend) = match engine {
                Some(engine) => (engine.device.clone(), engine.backend),
                None => {
                    let (device, backend, _) = pick_device().await;
                    (device, backend)
                }
            };
            jobs.load(device, backend, own, None).await;
        });
    }

    /// Converts a model file the visitor picked (with its class names, if given), keeps it in
    /// this browser and uses it. Steps are reported as they start; `cancel_conversion` stops it
    /// between them.
    pub fn add_model(&self, model: web_sys::File, labels: Option<web_sys::File>) {
        let conversion = self.memory.conversions.get() + 1;
        self.memory.conversions.set(conversion);
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.conversions.get() == conversion;
            let name = model.name();
            let failed = |error: String| Action::ConvertFailed(format!("{name}: {error}"));
            if model.size() > MAX_MODEL_BYTES {
                let mb = MAX_MODEL_BYTES / 1e6;
                return jobs
                    .send(failed(format!("the file is over {mb:.0} MB; convert it with `xai convert` instead")));
            }
            jobs.send(Action::Converting(format!("Reading {name} ({:.1} MB)", model.size() / 1e6)));
            let bytes = match file_bytes(&model).await {
                Ok(bytes) => bytes,
                Err(error) => return jobs.send(failed(error)),
            };
            let labels = match &labels {
                Some(file) => match file_bytes(file).await {
                    Ok(bytes) => Some(bytes),
                    Err(error) => return jobs.send(failed(format!("{}: {error}", file.name()))),
                },
                None => None,
            };
            if !current() {
                return;
            }
            jobs.send(Action::Converting(format!("Converting {name}")));
            let_the_page_paint().await;
            let start = now_ms();
            let converted = convert_model(&name, &bytes, labels);
            let ms = now_ms() - start;
            drop(bytes);
            let (weights, stored) = match converted {
                Ok(converted) if current() => converted,
                Ok(_) => return,
                Err(error) => return jobs.send(failed(error)),
            };
            jobs.send(Action::Converting("Keeping it in this browser".into()));
            if let Err(error) = store::save(&stored, &weights).await {
                return jobs.send(failed(error));
            }
            if !current() {
                return;
            }
            jobs.send(Action::Converted { model: stored.clone(), ms });
            jobs.use_model(Some(stored));
        });
    }

    pub fn cancel_conversion(&self) {
        self.memory.conversions.set(self.memory.conversions.get() + 1);
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
        if let Some(file) = files.get(0) {
            self.open_file(file);
        }
    }

    /// One of the audited folder's photos, in the single-photo view.
    pub fn open_audited(&self, path: &str) {
        let file = self.memory.audited_files.borrow().get(path).cloned();
        if let Some(file) = file {
            self.open_file(file);
        }
    }

    fn open_file(&self, file: web_sys::File) {
        let jobs = self.clone();
        spawn_local(async move {
            let name = file.name();
            let opened = match photo::file_bytes(&file).await {
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
                    if !jobs.move_to_cpu(&engine, &error) {
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
                Err(Failure::Device(error)) if jobs.move_to_cpu(&engine, &error) => return,
                Err(Failure::Device(error)) => Err(error.to_string()),
            };
            jobs.send(Action::Factorized(key, result));
        });
    }

    /// Compares every one-pass method on the photo: the maps from one pass, shown at once, then
    /// each method's scores in turn (dozens of passes each). `cancel_compare` stops it between
    /// steps.
    pub fn compare(&self, engine: Rc<Engine>, photo: Rc<GalleryPhoto>, key: CompareKey) {
        let run = new_run(&self.memory.comparisons);
        self.send(Action::CompareStarted(key.clone()));
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.comparisons.get() == run;
            let failed = |failure| jobs.failure_text(&engine, failure);
            let comparison = match engine.compare(&photo, key.clone()).await {
                Ok(comparison) => comparison,
                Err(failure) => return jobs.send(Action::CompareEnded(key, failed(failure))),
            };
            let class = comparison.class;
            let maps: Vec<_> = comparison.methods.iter().map(|m| (m.method, m.map.clone())).collect();
            jobs.send(Action::ComparedMaps(key.clone(), Ok(comparison)));
            let input = engine.net.input(std::slice::from_ref(&photo.crop));
            let mut scorer = match Scorer::new(&engine.net, &input, class).await {
                Ok(scorer) => scorer,
                Err(error) => return jobs.send(Action::CompareEnded(key, failed(Failure::Device(error)))),
            };
            for (method, map) in maps {
                match jobs.score(&mut scorer, &key, method, map, &current).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(failure) => return jobs.send(Action::CompareEnded(key, failed(failure))),
                }
            }
            jobs.send(Action::CompareEnded(key, None));
        });
    }

    /// Adds `methods`, which run passes of their own (Ablation-CAM, Score-CAM), to the
    /// comparison: each a batch of channels at a time with its progress, then scored like the
    /// others. `cancel_compare` stops it between batches.
    pub fn compare_own_passes(
        &self,
        engine: Rc<Engine>,
        photo: Rc<GalleryPhoto>,
        comparison: &Comparison,
        methods: Vec<&'static dyn CamMethod>,
    ) {
        let (key, class) = (comparison.key.clone(), comparison.class);
        let run = new_run(&self.memory.comparisons);
        self.send(Action::CompareStarted(key.clone()));
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.comparisons.get() == run;
            let failed = |failure| jobs.failure_text(&engine, failure);
            let input = engine.net.input(std::slice::from_ref(&photo.crop));
            let target = key.target();
            let mut scorer = match Scorer::new(&engine.net, &input, class).await {
                Ok(scorer) => scorer,
                Err(error) => return jobs.send(Action::CompareEnded(key, failed(Failure::Device(error)))),
            };
            for method in methods {
                let start = now_ms();
                let analysis = match engine.channel_by_channel(&input, key.layer, &target, method) {
                    Ok(mut steps) => loop {
                        let (done, of) = steps.progress();
                        let progress = CompareProgress::Channels(method.name(), done, of);
                        jobs.send(Action::CompareProgressed(key.clone(), progress));
                        let_the_page_paint().await;
                        if !current() {
                            return;
                        }
                        match steps.step().await {
                            Ok(Some(analysis)) => break analysis,
                            Ok(None) => {}
                            Err(error) => return jobs.send(Action::CompareEnded(key, failed(error.into()))),
                        }
                    },
                    Err(failure) => return jobs.send(Action::CompareEnded(key, failed(failure))),
                };
                let compared = Compared { method: method.name(), map: analysis.map.clone(), scores: None };
                jobs.send(Action::ComparedMap(key.clone(), compared, now_ms() - start));
                match jobs.score(&mut scorer, &key, method.name(), analysis.map, &current).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(failure) => return jobs.send(Action::CompareEnded(key, failed(failure))),
                }
            }
            jobs.send(Action::CompareEnded(key, None));
        });
    }

    /// Scores one method's map of the comparison a pass at a time, with its progress, the page
    /// painting (and taking a cancel click) before each; a map like one scored before gets its
    /// scores. `Ok(false)` when it was cancelled.
    async fn score(
        &self,
        scorer: &mut Scorer<'_>,
        key: &CompareKey,
        method: &'static str,
        map: Map,
        current: &dyn Fn() -> bool,
    ) -> Result<bool, Failure> {
        if let Some((like, scores)) = scorer.scored_like(&map) {
            self.send(Action::Scored(key.clone(), method, scores, ScoreCost::SameMapAs(like)));
            return Ok(true);
        }
        let start = now_ms();
        let mut scoring = scorer.map(&map);
        let scores = loop {
            let (done, of) = scoring.progress();
            self.send(Action::CompareProgressed(key.clone(), CompareProgress::Images(method, done, of)));
            let_the_page_paint().await;
            if !current() {
                return Ok(false);
            }
            if let Some(scores) = scoring.step().await.map_err(Failure::Device)? {
                break scores;
            }
        };
        scorer.keep(method, map, scores.clone());
        self.send(Action::Scored(key.clone(), method, scores, ScoreCost::Ms(now_ms() - start)));
        Ok(true)
    }

    pub fn cancel_compare(&self, key: CompareKey) {
        new_run(&self.memory.comparisons);
        self.send(Action::CompareEnded(key, None));
    }

    /// Adebayo et al.'s sanity checks of every one-pass method on the photo, all methods from one
    /// pass per step: the network randomized part by part from the top, then a random class.
    /// `cancel_sanity` stops it between steps.
    pub fn check_sanity(&self, engine: Rc<Engine>, photo: Rc<GalleryPhoto>, key: CompareKey) {
        let run = new_run(&self.memory.sanity_checks);
        self.send(Action::SanityStarted(key.clone()));
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.sanity_checks.get() == run;
            let failed = |error: CamError| Action::SanityEnded(key.clone(), jobs.failure_text(&engine, error.into()));
            let start = now_ms();
            let input = engine.net.input(std::slice::from_ref(&photo.crop));
            let methods = xai_explain::methods::one_pass(key.layer);
            let target = key.target();
            let check = SanityCheck::start(&engine.net, &input, key.layer, &target, &methods, SANITY_SEED).await;
            let mut check = match check {
                Ok(check) => check,
                Err(error) => return jobs.send(failed(error)),
            };
            let results = loop {
                jobs.send(Action::SanityStepped(key.clone(), check.done()));
                let_the_page_paint().await;
                if !current() {
                    return;
                }
                match check.step().await {
                    Ok(Some(results)) => break results,
                    Ok(None) => {}
                    Err(error) => return jobs.send(failed(error)),
                }
            };
            let random_class = results.first().map_or(0, |sanity| sanity.random_logit.class);
            jobs.send(Action::SanityChecked(SanityReport {
                key: key.clone(),
                class: check.class(),
                random_label: engine.model.labels.name(random_class).unwrap_or_default().to_string(),
                methods: methods
                    .iter()
                    .zip(check.originals())
                    .zip(results)
                    .map(|((m, a), s)| (m.name(), a.map.clone(), s))
                    .collect(),
                ms: now_ms() - start,
            }));
        });
    }

    pub fn cancel_sanity(&self, key: CompareKey) {
        new_run(&self.memory.sanity_checks);
        self.send(Action::SanityEnded(key, None));
    }

    /// Audits a folder: its photos classified a batch at a time (read from their files only
    /// then), then the report's overlays and each predicted class's concepts. `cancel_audit`
    /// stops it between batches.
    pub fn audit(&self, engine: Rc<Engine>, folder: String, files: FolderFiles) {
        let run = new_run(&self.memory.audits);
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.audits.get() == run;
            let mut report = Report::default();
            let paths: Vec<String> = files.iter().map(|(path, _)| path.clone()).collect();
            let entries = xai_audit::folder::entries(&paths, &engine.model.labels, &mut report);
            let notes = std::mem::take(&mut report.notes);
            let labels = Rc::new(engine.model.labels.clone());
            jobs.send(Action::AuditStarted { run, folder, labels, total: entries.len(), notes, at_ms: now_ms() });
            let by_path = entries.iter().filter_map(|e| Some((e.path.clone(), files[e.index].1.clone()?))).collect();
            jobs.memory.audited_files.replace(by_path);
            drop(files);
            let read = |path: String| {
                let file = jobs.memory.audited_files.borrow().get(&path).cloned();
                async move { photo::crop_of_file(&file.ok_or("not a file")?).await }
            };
            let failed = |failure: Failure| {
                let text = jobs.failure_text(&engine, failure).unwrap_or_else(|| "the page moved to the CPU".into());
                Action::AuditEnded(run, Some(AuditStage::Failed(text)))
            };
            let side = InputSize::STANDARD.get() as usize;
            for chunk in entries.chunks(compute::photos_per_pass(side, engine.backend == Backend::WebGpu)) {
                let_the_page_paint().await;
                if !current() {
                    return;
                }
                let mut batch = Vec::with_capacity(chunk.len());
                for entry in chunk {
                    let (path, truth) = (entry.path.clone(), entry.truth);
                    let photo = AuditedPhoto { path, truth, top5: Vec::new(), map: None, error: None };
                    batch.push((photo, read(entry.path.clone()).await));
                }
                match compute::classify(&engine.net, &engine.model.labels, batch).await {
                    Ok(photos) => {
                        report.photos.extend(photos.iter().cloned());
                        jobs.send(Action::AuditClassified(run, photos, now_ms()));
                    }
                    Err(error) => return jobs.send(failed(error.into())),
                }
            }
            let samples = report.concept_samples();
            jobs.send(Action::AuditExplaining(run, samples.len()));
            let listed = report.confident_mistakes().into_iter().chain(report.unsure_right_answers());
            for photo in listed {
                let_the_page_paint().await;
                if !current() {
                    return;
                }
                if let (Ok(crop), Some(map)) = (read(photo.path.clone()).await, &photo.map) {
                    let url = png_data_url(&compute::overlay(&crop, map));
                    jobs.send(Action::AuditOverlay(run, photo.path.clone(), url));
                }
            }
            for (class, photos) in samples {
                let_the_page_paint().await;
                if !current() {
                    return;
                }
                let mut crops = Vec::with_capacity(photos.len());
                for photo in photos {
                    if let Ok(crop) = read(photo.path.clone()).await {
                        crops.push((photo.path.clone(), crop));
                    }
                }
                match compute::class_concepts(&engine.net, &engine.model.labels, class, &crops).await {
                    Ok((concepts, regions)) => {
                        let regions = regions.iter().map(png_data_url).collect();
                        jobs.send(Action::AuditConcepts(run, concepts, regions));
                    }
                    Err(xai_explain::DffError::Readback(error)) => return jobs.send(failed(Failure::Device(error))),
                    Err(error) => return jobs.send(failed(Failure::Input(error.to_string()))),
                }
            }
            jobs.send(Action::AuditEnded(run, None));
        });
    }

    pub fn cancel_audit(&self, run: u64) {
        new_run(&self.memory.audits);
        self.send(Action::AuditEnded(run, Some(AuditStage::Cancelled)));
    }

    /// What to tell the visitor about a failed job; `None` when the page handles it by moving
    /// to the CPU.
    fn failure_text(&self, engine: &Engine, failure: Failure) -> Option<String> {
        match failure {
            Failure::Input(error) => Some(error),
            Failure::Device(error) if self.move_to_cpu(engine, &error) => None,
            Failure::Device(error) => Some(error.to_string()),
        }
    }

    /// A GPU that stops answering (a lost WebGPU device) hands the page to the CPU: the weights
    /// come back from Cache Storage and the new model answers the current photo again. Says
    /// whether the failure is handled that way (it is not on the CPU itself).
    fn move_to_cpu(&self, engine: &Engine, failure: &ReadbackError) -> bool {
        if engine.backend != Backend::WebGpu {
            return false;
        }
        if self.memory.moving_to_cpu.replace(true) {
            return true;
        }
        self.send(Action::DeviceLost(Notice {
            text: "WebGPU stopped working, so the page moved to the CPU: expect about a second per photo.".into(),
            details: Some(failure.0.clone()),
        }));
        let (jobs, own) = (self.clone(), engine.own.clone());
        spawn_local(async move {
            let start = now_ms();
            match load_engine(Device::flex(), Backend::Cpu, own.clone(), &|_, _| {}).await {
                Ok((cpu, cached)) => {
                    jobs.engine.set(Some(Rc::new(cpu)));
                    let ms = now_ms() - start;
                    jobs.send(Action::ModelReady { backend: Backend::Cpu.name(), ms, cached, notice: None, own });
                }
                Err(error) => jobs.send(Action::ModelFailed(format!("could not move to the CPU: {error}"))),
            }
        });
        true
    }
}
