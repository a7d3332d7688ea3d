//! The compare view's job: every method's map of the photo, each scored.

use std::rc::Rc;

use xai_explain::scoring::Scorer;
use xai_explain::{CamMethod, Map};
use yew::platform::spawn_local;

use super::{channel_by_channel, let_the_page_paint, new_run, Jobs};
use crate::engine::{now_ms, Engine, Failure};
use crate::state::{Action, CompareKey, CompareProgress, Compared, Comparison, GalleryPhoto, ScoreCost};

impl Jobs {
    /// Compares every one-pass method on the photo: the maps from one pass, shown at once, then
    /// each method's scores in turn (dozens of passes each). `cancel_compare` stops it between
    /// steps.
    pub fn compare(&self, engine: Rc<Engine>, photo: Rc<GalleryPhoto>, key: CompareKey) {
        let current = self.start_comparison(&key);
        let jobs = self.clone();
        spawn_local(async move {
            let finished = async {
                let comparison = engine.compare(&photo, key.clone()).await?;
                let class = comparison.class;
                let maps: Vec<_> = comparison.methods.iter().map(|m| (m.method, m.map.clone())).collect();
                jobs.send(Action::ComparedMaps(key.clone(), Ok(comparison)));
                let input = engine.input(std::slice::from_ref(&photo.crop));
                let mut scorer = Scorer::new(&engine.net, &input, class).await.map_err(Failure::Device)?;
                for (method, map) in maps {
                    if !jobs.score(&mut scorer, &key, method, map, &current).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            };
            jobs.end_compare(&engine, key.clone(), finished.await);
        });
    }

    /// Adds `methods`, which run passes of their own (Ablation-CAM, Score-CAM), to the
    /// comparison: each a batch of channels at a time with its progress, then scored like the
    /// others, after the rows a cancel left unscored. `cancel_compare` stops it between batches.
    pub fn compare_own_passes(
        &self,
        engine: Rc<Engine>,
        photo: Rc<GalleryPhoto>,
        comparison: &Comparison,
        methods: Vec<&'static dyn CamMethod>,
    ) {
        let (key, class) = (comparison.key.clone(), comparison.class);
        let unscored: Vec<_> =
            comparison.methods.iter().filter(|m| m.scores.is_none()).map(|m| (m.method, m.map.clone())).collect();
        let current = self.start_comparison(&key);
        let jobs = self.clone();
        spawn_local(async move {
            let finished = async {
                let input = engine.input(std::slice::from_ref(&photo.crop));
                let target = key.target();
                let mut scorer = Scorer::new(&engine.net, &input, class).await.map_err(Failure::Device)?;
                for (method, map) in unscored {
                    if !jobs.score(&mut scorer, &key, method, map, &current).await? {
                        return Ok(false);
                    }
                }
                for method in methods {
                    let start = now_ms();
                    let steps = engine.channel_by_channel(&input, key.layer, &target, method)?;
                    let progress = |done, of| {
                        let progress = CompareProgress::Channels(method.name(), done, of);
                        jobs.send(Action::CompareProgressed(key.clone(), progress));
                    };
                    let Some(analysis) = channel_by_channel(steps, progress, &current).await? else {
                        return Ok(false);
                    };
                    let compared = Compared { method: method.name(), map: analysis.map.clone(), scores: None };
                    jobs.send(Action::ComparedMap(key.clone(), compared, now_ms() - start));
                    if !jobs.score(&mut scorer, &key, method.name(), analysis.map, &current).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            };
            jobs.end_compare(&engine, key.clone(), finished.await);
        });
    }

    /// Starts a run of the comparison; what it returns says whether the run is still the
    /// current one (no cancel, no newer run).
    fn start_comparison(&self, key: &CompareKey) -> impl Fn() -> bool + use<> {
        let run = new_run(&self.memory.comparisons);
        self.send(Action::CompareStarted(key.clone()));
        let memory = self.memory.clone();
        move || memory.comparisons.get() == run
    }

    /// Ends a comparison that `finished` (`Ok(true)`) or failed; one cancelled (`Ok(false)`) was
    /// ended by its cancel, and its key may already be a newer comparison's.
    fn end_compare(&self, engine: &Engine, key: CompareKey, finished: Result<bool, Failure>) {
        match finished {
            Ok(true) => self.send(Action::CompareEnded(key, None)),
            Ok(false) => {}
            Err(failure) => self.send(Action::CompareEnded(key, self.failure_text(engine, failure))),
        }
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
}
