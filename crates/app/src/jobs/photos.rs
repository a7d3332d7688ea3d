//! Photos opened, analysed and factorised.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use xai_explain::dff::ActivationRows;
use xai_explain::CamMethod;
use yew::platform::spawn_local;

use super::{channel_by_channel, let_the_page_paint, new_run, Jobs};
use crate::engine::{now_ms, Backend, Engine, Failure};
use crate::photo;
use crate::state::{Action, AnalysisKey, Explained, FactorizeKey, GalleryPhoto, NewPhoto};

impl Jobs {
    pub fn open_demo(&self, name: &'static str) {
        let (jobs, open) = (self.clone(), new_run(&self.memory.opens));
        spawn_local(async move {
            let opened = photo::demo(name).await;
            jobs.opened(open, opened);
        });
    }

    /// Shows a photo opened, or why it could not be, unless another was opened since.
    fn opened(&self, open: u64, opened: Result<NewPhoto, String>) {
        if self.memory.opens.get() != open {
            return;
        }
        match opened {
            Ok(photo) => self.send(Action::AddPhoto(photo)),
            Err(error) => self.send(Action::Error(error)),
        }
    }

    /// The first of the files picked, dropped or pasted.
    pub fn open_files(&self, files: web_sys::FileList) {
        if let Some(file) = files.get(0) {
            self.open_file(file);
        }
    }

    /// One of the audited folder's photos, in the single-photo view, which is brought into
    /// sight: the audit's table is far below it.
    pub fn open_audited(&self, path: &str) {
        let file = self.memory.audited_files.borrow().get(path).cloned();
        if let Some(file) = file {
            self.open_file(file);
            let document = web_sys::window().and_then(|window| window.document());
            if let Some(result) = document.and_then(|document| document.get_element_by_id("result-title")) {
                result.scroll_into_view();
                // The keyboard follows: its next Tab is in the photo's view, not the table.
                if let Some(title) = result.dyn_ref::<web_sys::HtmlElement>() {
                    let _ = title.focus();
                }
            }
        }
    }

    fn open_file(&self, file: web_sys::File) {
        let (jobs, open) = (self.clone(), new_run(&self.memory.opens));
        spawn_local(async move {
            let name = xai_model::printable(&file.name());
            let opened = match photo::file_bytes(&file).await {
                Ok(bytes) => photo::upload(&name, &bytes),
                Err(error) => Err(format!("{name}: {error}")),
            };
            jobs.opened(open, opened);
        });
    }

    /// The photo's classes and map for `key`. A method with passes of its own (Score-CAM,
    /// Ablation-CAM: minutes on a CPU) goes a batch of channels at a time, with its progress;
    /// a newer analysis (another method, say, or the cancel that restores one) stops it.
    pub fn analyse(&self, engine: Rc<Engine>, photo: Rc<GalleryPhoto>, key: AnalysisKey) {
        let run = new_run(&self.memory.analyses);
        self.send(Action::AnalysisStarted);
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.analyses.get() == run;
            let explained = match xai_explain::method(&key.question.method) {
                Ok(method) if method.runs_own_passes() => {
                    jobs.own_passes(&engine, &photo, &key, method, &current).await
                }
                Ok(method) => engine.analyse(&photo, key.clone(), method).await.map(Some),
                Err(error) => Err(error.into()),
            };
            let failed = |error: String| Action::Analysed(Err((key.clone(), error)));
            match explained {
                Ok(Some(explained)) => jobs.send(Action::Analysed(Ok(explained))),
                Ok(None) => {}
                Err(Failure::Input(error)) => jobs.send(failed(format!("{}: {error}", photo.name))),
                Err(Failure::Device(error)) => {
                    if !jobs.move_to_cpu(&engine, &error) {
                        jobs.send(failed(error.to_string()));
                    }
                }
            }
        });
    }

    /// Stops an analysis running passes of its own: its question is no longer asked.
    pub fn stop_analysis(&self) {
        new_run(&self.memory.analyses);
    }

    /// `method`'s analysis a batch of channels at a time; `None` when `current` says it was
    /// replaced.
    async fn own_passes(
        &self,
        engine: &Engine,
        photo: &GalleryPhoto,
        key: &AnalysisKey,
        method: &dyn CamMethod,
        current: &dyn Fn() -> bool,
    ) -> Result<Option<Explained>, Failure> {
        let start = now_ms();
        let input = engine.input(std::slice::from_ref(&photo.crop));
        let target = key.question.target();
        let steps = engine.channel_by_channel(&input, key.question.layer, &target, method)?;
        let progress = |done, of| self.send(Action::AnalysisProgressed(key.clone(), done, of));
        let analysis = channel_by_channel(steps, progress, current).await?;
        Ok(analysis.map(|analysis| engine.explained(key.clone(), analysis, now_ms() - start)))
    }

    /// Deep Feature Factorization of the key's photos: their features a pass at a time, with
    /// the progress, then the concepts. `cancel_factorize` stops it between passes.
    pub fn factorize(&self, engine: Rc<Engine>, key: FactorizeKey) {
        let run = new_run(&self.memory.factorizations);
        self.send(Action::FactorizeStarted(key.clone()));
        let jobs = self.clone();
        spawn_local(async move {
            let crops: Vec<_> = key.photos.iter().map(|p| p.crop.clone()).collect();
            let input = engine.input(&crops);
            // On the CPU a pass holds the page: a photo a pass, the page painted between them.
            // WebGPU's passes only queue work, whose launches cost: every photo in one pass.
            let per_pass = if engine.backend == Backend::Cpu { 1 } else { crops.len() };
            let mut rows = ActivationRows::new(&engine.net, &input, per_pass);
            loop {
                let_the_page_paint().await;
                if jobs.memory.factorizations.get() != run {
                    return;
                }
                let done = rows.step();
                jobs.send(Action::FactorizeProgressed(key.clone(), rows.progress().0));
                if done {
                    break;
                }
            }
            let_the_page_paint().await;
            let result = match engine.concepts(rows, key.k).await {
                Ok(concepts) => Ok(Rc::new(concepts)),
                Err(Failure::Input(error)) => Err(error),
                Err(Failure::Device(error)) if jobs.move_to_cpu(&engine, &error) => return,
                Err(Failure::Device(error)) => Err(error.to_string()),
            };
            jobs.send(Action::Factorized(key, result));
        });
    }

    pub fn cancel_factorize(&self, key: FactorizeKey) {
        new_run(&self.memory.factorizations);
        self.send(Action::FactorizeCancelled(key));
    }
}
