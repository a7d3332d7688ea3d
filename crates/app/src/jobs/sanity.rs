//! The sanity checks' job.

use std::rc::Rc;

use xai_explain::sanity::SanityCheck;
use xai_explain::CamError;
use yew::platform::spawn_local;

use super::{let_the_page_paint, new_run, Jobs};
use crate::engine::{now_ms, Engine};
use crate::state::{Action, CompareKey, GalleryPhoto, SanityReport};

/// The sanity check's random weights and class: the same for every visitor, as in `xai sanity`.
const SANITY_SEED: u64 = 0;

impl Jobs {
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
            let input = engine.input(std::slice::from_ref(&photo.crop));
            let methods = xai_explain::methods::one_pass(key.layer, engine.net.tail());
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
                random_label: engine.info.model.labels.name(random_class).unwrap_or_default().to_string(),
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
}
