//! The folder audit's job.

use std::rc::Rc;
use std::sync::Arc;

use xai_audit::html::png_data_url;
use xai_audit::{compute, Photo as AuditedPhoto, Report};
use yew::platform::spawn_local;

use super::{let_the_page_paint, new_run, Jobs};
use crate::engine::{now_ms, Backend, Failure};
use crate::fetch::fetch_bytes;
use crate::folder::Folder;
use crate::photo;
use crate::state::{Action, AuditStage};

impl Jobs {
    /// Audits a folder: its photos classified a batch at a time (read from their files only
    /// then), then the report's overlays and each predicted class's concepts. `cancel_audit`
    /// stops it between batches.
    pub fn audit(&self, folder: Folder) {
        // The model in use now: a dropped folder is listed first, and the visitor may have
        // chosen another model since.
        let Some(engine) = self.memory.ready_engine.borrow().clone() else {
            return self.send(Action::Error("Another model is loading: audit the folder once it is ready.".into()));
        };
        let run = new_run(&self.memory.audits);
        let jobs = self.clone();
        spawn_local(async move {
            let current = || jobs.memory.audits.get() == run;
            let Folder { name: folder, files, notes } = folder;
            let mut report = Report { notes, ..Report::default() };
            let paths: Vec<String> = files.iter().map(|(path, _)| path.clone()).collect();
            let labels = &engine.info.model.labels;
            // ImageNet's WordNet IDs come from the site, and only for a folder named by them.
            let imagenet_ids = match xai_audit::wants_imagenet_ids(&paths, labels) {
                true => fetch_bytes(xai_audit::IMAGENET_IDS_FILE).await.ok().and_then(|b| String::from_utf8(b).ok()),
                false => None,
            };
            let entries = xai_audit::folder::entries(&paths, labels, imagenet_ids.as_deref(), &mut report);
            let notes = std::mem::take(&mut report.notes);
            let labels = Rc::new(engine.info.model.labels.clone());
            jobs.send(Action::AuditStarted { run, folder, labels, total: entries.len(), notes, at_ms: now_ms() });
            let by_path = entries.iter().filter_map(|e| Some((e.path.clone(), files[e.index].1.clone()?))).collect();
            jobs.memory.audited_files.replace(by_path);
            drop(files);
            // At the model's own size, as `xai audit` reads them.
            let side = engine.info.model.input_size;
            let read = |path: String| {
                let file = jobs.memory.audited_files.borrow().get(&path).cloned();
                async move { photo::crop_of_file(&file.ok_or("the browser could not read it")?, side).await }
            };
            let failed = |failure: Failure| {
                let text = jobs.failure_text(&engine, failure).unwrap_or_else(|| "the page moved to the CPU".into());
                Action::AuditEnded(run, Some(AuditStage::Stopped(text)))
            };
            let on_gpu = engine.backend == Backend::WebGpu;
            for chunk in entries.chunks(compute::photos_per_pass(side.get() as usize, on_gpu)) {
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
                match compute::classify(&engine.net, &engine.info.model.labels, batch).await {
                    Ok(photos) => {
                        let photos: Vec<_> = photos.into_iter().map(Arc::new).collect();
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
                match compute::class_concepts(&engine.net, &engine.info.model.labels, class, &crops).await {
                    Ok(None) => {}
                    Ok(Some((concepts, regions))) => {
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
}
