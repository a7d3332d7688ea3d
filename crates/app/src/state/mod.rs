//! The page's state: one value that only [`Action`]s change, behind yew's `use_reducer` (as in
//! yew's `function_todomvc`). Plain Rust, so it is tested natively.
//!
//! What the network computes ([`Question`]) is kept apart from how its map is painted
//! ([`Look`]): changing the colormap or the opacity repaints the map already read back, and
//! only a new photo, method, layer or class runs the network again.

mod link;
#[cfg(test)]
mod tests;
mod values;

use std::rc::Rc;

use xai_explain::metrics::{Metric, Scores};
use xai_explain::render::Colormap;
use xai_explain::{Concepts, Score};
use xai_model::architecture::Tail;
use xai_model::Layer;
use xai_share::{ModelRef, Setup};

pub use link::settings_from_link;
pub use values::*;

/// The photos the gallery keeps (a 224 x 224 crop and its JPEG each): past it, the oldest not
/// ticked for DFF go.
pub const GALLERY_SIZE: usize = 24;

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub model: ModelState,
    /// The visitor's own model in use; `None` is the built-in one.
    pub using: Option<StoredModel>,
    /// How the own model loaded was converted; `None` while one loads, and for the built-in one.
    pub setup: Option<Setup>,
    /// The visitor's own models kept in this browser.
    pub own_models: Vec<StoredModel>,
    pub conversion: Conversion,
    /// The model a share link was made with, when this browser does not have it.
    pub wanted: Option<ModelRef>,
    /// Counts the models loaded so far; the current one is number `model_number`.
    pub model_number: u64,
    /// How many classes the loaded model tells apart.
    pub classes: usize,
    /// Its layers, each with the side of its maps.
    pub layers: Vec<(Layer, usize)>,
    /// Whether its head is one Linear on average pooling, whose weights CAM reads.
    pub linear_head: bool,
    /// What the page says about its device (why it runs on the CPU).
    pub notice: Option<Notice>,
    /// What it says about the model in use (converted for another size): gone with it.
    pub model_notice: Option<Notice>,
    /// What it says about the link opened (a class the model lacks): gone with its photo.
    pub link_notice: Option<Notice>,
    pub error: Option<String>,
    /// The photos opened, oldest first: at most [`GALLERY_SIZE`] unless more are ticked.
    pub gallery: Vec<Rc<GalleryPhoto>>,
    pub current: Option<Rc<GalleryPhoto>>,
    pub question: Question,
    pub look: Look,
    /// DFF's number of concepts.
    pub k: usize,
    /// Photos ticked for DFF, by id.
    pub picks: Vec<u64>,
    /// Jobs started so far (the status element's `data-job`).
    pub jobs: u64,
    /// The newest analysis answered, and its result if it succeeded.
    pub answered: Option<AnalysisKey>,
    pub explained: Option<Rc<Explained>>,
    /// How many channels of an analysis with passes of its own are done, of how many.
    pub analysis_progress: Option<(AnalysisKey, usize, usize)>,
    /// The factorisation under way, and how many of its photos' features are computed.
    pub factorizing: Option<(FactorizeKey, usize)>,
    pub concepts: Option<(FactorizeKey, Rc<Concepts>)>,
    /// The one concept painted alone, if any.
    pub concept_shown: Option<usize>,
    /// The comparison of the methods under way, and the newest one made.
    pub comparing: Option<CompareKey>,
    pub comparison: Option<Rc<Comparison>>,
    /// How far the comparison's current step is.
    pub compare_progress: Option<CompareProgress>,
    /// The score the comparison is sorted by (best first); `None` keeps the methods' order.
    pub sort: Option<Metric>,
    /// A share link asked for the comparison: it starts once the page can run it.
    pub compare_on_open: bool,
    /// The sanity check under way and how many of its steps are done, and the newest one made.
    pub checking: Option<(CompareKey, usize)>,
    pub sanity: Option<Rc<SanityReport>>,
    /// The newest folder audit, under way or done.
    pub audit: Option<Rc<Audit>>,
    next_photo: u64,
}

pub enum Action {
    ModelProgress {
        loaded: u64,
        total: Option<u64>,
    },
    ModelReady {
        backend: &'static str,
        ms: f64,
        cached: bool,
        /// About the device, when there is news; an earlier one stays otherwise.
        notice: Option<Notice>,
        /// About this model.
        model_notice: Option<Notice>,
        /// The visitor's own model, or `None` for the built-in one.
        own: Option<StoredModel>,
        /// How the own model was converted, which its share links say.
        setup: Option<Setup>,
        classes: usize,
        /// Its layers, each with the side of its maps.
        layers: Vec<(Layer, usize)>,
        /// Whether its head is one Linear on average pooling.
        linear_head: bool,
    },
    /// Another model is being loaded: the built-in one (`None`) or the visitor's own.
    SwitchModel(Option<StoredModel>),
    ModelsListed(Vec<StoredModel>),
    /// A share link names a model this browser does not have.
    WantModel(ModelRef),
    Converting(String),
    Converted {
        model: StoredModel,
        ms: f64,
        /// Why the browser would not keep it, if it would not: it is used for this visit only.
        unkept: Option<String>,
        /// What of the file the model leaves out.
        notes: Vec<String>,
    },
    ConvertFailed(String),
    ConvertCancelled,
    ModelDeleted(String),
    ModelFailed(String),
    /// The device stopped answering; another model is being loaded on the CPU.
    DeviceLost(Notice),
    AddPhoto(NewPhoto),
    /// A share link: its photo, shown with its settings.
    OpenLink(NewPhoto, LinkSettings),
    SetMethod(String),
    SetLayer(Layer),
    SetClass(Option<usize>),
    SetScore(Score),
    SetColormap(Colormap),
    SetOpacity(u8),
    SetK(usize),
    TogglePick(u64),
    /// Paint one concept alone, or all of them again when it is the one shown.
    ToggleConcept(usize),
    AnalysisStarted,
    /// So many of the channels of an analysis with passes of its own are done, of so many.
    AnalysisProgressed(AnalysisKey, usize, usize),
    /// Stop the analysis under way: the method goes back to the last one that needed no passes
    /// of its own.
    CancelAnalysis,
    Analysed(Result<Explained, (AnalysisKey, String)>),
    FactorizeStarted(FactorizeKey),
    /// So many of the photos' features are computed.
    FactorizeProgressed(FactorizeKey, usize),
    Factorized(FactorizeKey, Result<Rc<Concepts>, String>),
    FactorizeCancelled(FactorizeKey),
    CompareStarted(CompareKey),
    /// The maps of a comparison (or why there are none).
    ComparedMaps(CompareKey, Result<Comparison, String>),
    /// One method's scores, and what they cost.
    Scored(CompareKey, &'static str, Scores, ScoreCost),
    CompareProgressed(CompareKey, CompareProgress),
    /// A method that ran passes of its own joins the comparison, after so many milliseconds.
    ComparedMap(CompareKey, Compared, f64),
    /// The comparison finished, failed at scoring, or was cancelled.
    CompareEnded(CompareKey, Option<String>),
    SortBy(Option<Metric>),
    SanityStarted(CompareKey),
    /// How many steps of the sanity check are done.
    SanityStepped(CompareKey, usize),
    SanityChecked(SanityReport),
    /// The sanity check failed or was cancelled.
    SanityEnded(CompareKey, Option<String>),
    /// A folder audit began: its run, folder, photos to classify, what its layout left out, and
    /// the time.
    AuditStarted {
        run: u64,
        folder: String,
        labels: Rc<xai_model::Labels>,
        total: usize,
        notes: Vec<String>,
        at_ms: f64,
    },
    /// A batch of the audit's photos classified, at that time.
    AuditClassified(u64, Vec<std::sync::Arc<xai_audit::Photo>>, f64),
    /// Classification is over; the report's pictures follow, `classes` concepts to find.
    AuditExplaining(u64, usize),
    /// A listed photo's overlay (by path), as a data URL.
    AuditOverlay(u64, String, String),
    /// A class's concepts and their example regions (data URLs).
    AuditConcepts(u64, xai_audit::ClassConcepts, Vec<String>),
    /// The audit finished (`None`), failed, or was cancelled.
    AuditEnded(u64, Option<AuditStage>),
    Error(String),
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            model: ModelState::Loading { loaded: 0, total: None },
            using: None,
            setup: None,
            own_models: Vec::new(),
            conversion: Conversion::Idle,
            wanted: None,
            model_number: 0,
            classes: 0,
            // The built-in ResNet-50's at 224 px, until a model is ready.
            layers: Layer::ALL.into_iter().zip([56, 28, 14, 7]).collect(),
            linear_head: true,
            notice: None,
            model_notice: None,
            link_notice: None,
            error: None,
            gallery: Vec::new(),
            current: None,
            question: Question::default(),
            look: Look { colormap: Colormap::Jet, opacity: 50 },
            k: 5,
            picks: Vec::new(),
            jobs: 0,
            answered: None,
            explained: None,
            analysis_progress: None,
            factorizing: None,
            concepts: None,
            concept_shown: None,
            comparing: None,
            comparison: None,
            compare_progress: None,
            sort: None,
            compare_on_open: false,
            checking: None,
            sanity: None,
            audit: None,
            next_photo: 0,
        }
    }
}

impl AppState {
    /// The analysis the page should show now, if the model and a photo are there.
    pub fn analysis_key(&self) -> Option<AnalysisKey> {
        let photo = self.current.as_ref()?;
        matches!(self.model, ModelState::Ready { .. }).then(|| AnalysisKey {
            model: self.model_number,
            photo: photo.id,
            question: self.question.clone(),
        })
    }

    /// The result for the current photo and question, once it is there.
    pub fn shown(&self) -> Option<&Rc<Explained>> {
        self.explained.as_ref().filter(|e| Some(&e.key) == self.analysis_key().as_ref())
    }

    /// How far the current analysis is, when it runs passes of its own: channels done, of how
    /// many.
    pub fn analysis_progress(&self) -> Option<(usize, usize)> {
        let (key, done, of) = self.analysis_progress.as_ref()?;
        (Some(key) == self.analysis_key().as_ref() && self.answered.as_ref() != Some(key)).then_some((*done, *of))
    }

    /// The comparison the page should show now: the current photo, layer and class.
    pub fn compare_key(&self) -> Option<CompareKey> {
        let key = self.analysis_key()?;
        let Question { layer, class, score, .. } = key.question;
        Some(CompareKey { model: key.model, photo: key.photo, layer, class, score })
    }

    /// The comparison of the current photo, layer and class, once its maps are there.
    pub fn compared(&self) -> Option<&Rc<Comparison>> {
        self.comparison.as_ref().filter(|c| Some(&c.key) == self.compare_key().as_ref())
    }

    /// The answer to show for the current photo: the current question's once it is there;
    /// while a new question runs, the last one answered for this photo and model (dimmed, so
    /// its classes stay where the visitor's focus is); none once the current question failed.
    pub fn photo_answer(&self) -> Option<&Rc<Explained>> {
        let key = self.analysis_key()?;
        if self.answered.as_ref() == Some(&key) {
            return self.shown();
        }
        self.same_photo_answer(&key)
    }

    /// The newest answer for the photo and model of `key`, whichever question it answered.
    fn same_photo_answer(&self, key: &AnalysisKey) -> Option<&Rc<Explained>> {
        self.explained.as_ref().filter(|e| (e.key.model, e.key.photo) == (key.model, key.photo))
    }

    /// The classes a contrast can name: the photo's top five but the explained class. Any
    /// answer for this photo and model has them, so they stay while a new question runs.
    pub fn contrast_classes(&self) -> Vec<(usize, String)> {
        let Some(key) = self.analysis_key() else { return Vec::new() };
        let Some(top5) = self.same_photo_answer(&key).map(|e| &e.top5) else { return Vec::new() };
        let explained = self.question.class.or(top5.first().map(|p| p.class));
        top5.iter().filter(|p| Some(p.class) != explained).map(|p| (p.class, p.label.clone())).collect()
    }

    /// The sanity check of the current photo, layer and class, once it is done.
    pub fn checked(&self) -> Option<&Rc<SanityReport>> {
        self.sanity.as_ref().filter(|s| Some(&s.key) == self.compare_key().as_ref())
    }

    /// Stops waiting for the jobs that the model's device ran (the jobs stop themselves); an
    /// audit under way ends with its report so far, which says `why`.
    fn forget_device_jobs(&mut self, why: &str) {
        self.factorizing = None;
        self.comparing = None;
        self.checking = None;
        if let Some(run) = self.audit.as_ref().filter(|a| a.running()).map(|a| a.run) {
            self.apply(Action::AuditEnded(run, Some(AuditStage::Stopped(why.into()))));
        }
    }

    pub fn status(&self) -> Status {
        match self.model {
            ModelState::Loading { .. } => Status::Loading,
            ModelState::Failed => Status::Idle,
            ModelState::Ready { .. }
                if self.factorizing.is_some()
                    || self.comparing.is_some()
                    || self.checking.is_some()
                    || self.audit.as_ref().is_some_and(|a| a.running()) =>
            {
                Status::Running
            }
            ModelState::Ready { .. } => match self.analysis_key() {
                Some(key) if self.answered.as_ref() != Some(&key) => Status::Running,
                _ if self.jobs > 0 => Status::Done,
                _ => Status::Idle,
            },
        }
    }

    /// The photos DFF factorises: the ticked ones, else the current one.
    pub fn dff_photos(&self) -> Vec<Rc<GalleryPhoto>> {
        let picked: Vec<_> = self.gallery.iter().filter(|p| self.picks.contains(&p.id)).cloned().collect();
        if picked.is_empty() {
            self.current.iter().cloned().collect()
        } else {
            picked
        }
    }

    /// The current photo's top class, once the network has answered for it.
    fn top_class(&self) -> Option<usize> {
        self.photo_answer().and_then(|e| e.top5.first()).map(|p| p.class)
    }

    /// Opens a photo. The photo shown, opened again (its demo clicked, its audit row, the page's
    /// own link followed), stays as it is, with its answer, comparison and checks; after an
    /// error it is asked again.
    fn add_photo(&mut self, photo: NewPhoto) {
        if self.error.is_none() && self.current.as_ref().is_some_and(|c| c.source == photo.source) {
            return;
        }
        self.next_photo += 1;
        let photo =
            Rc::new(GalleryPhoto { id: self.next_photo, name: photo.name, crop: photo.crop, source: photo.source });
        // The same demo (or the same JPEG) twice is one photo, still ticked for DFF if it was.
        if let Some(before) = self.gallery.iter().find(|p| p.source == photo.source) {
            self.picks.iter_mut().filter(|pick| **pick == before.id).for_each(|pick| *pick = photo.id);
        }
        self.gallery.retain(|p| p.source != photo.source);
        self.gallery.push(photo.clone());
        // The oldest photos neither shown nor ticked go past the gallery's size: clicking through
        // an audit's photos would otherwise keep every crop and JPEG for the visit.
        let mut spare = self.gallery.len().saturating_sub(GALLERY_SIZE);
        self.gallery.retain(|p| {
            let dropped = spare > 0 && p.id != photo.id && !self.picks.contains(&p.id);
            spare -= usize::from(dropped);
            !dropped
        });
        self.current = Some(photo);
        // Another photo has its own classes: a contrast with one of the last photo's is not asked.
        self.question.class = None;
        self.question.score = Score::Logit;
        self.error = None;
        // A link's comparison and notice are about the link's photo (set again just after, for
        // a link).
        self.compare_on_open = false;
        self.link_notice = None;
    }

    /// The model the page shows as chosen from now on (while it loads, too).
    fn choose_model(&mut self, own: Option<StoredModel>) {
        if own != self.using {
            // Another head: its classes and concepts are not this one's.
            self.question.class = None;
            self.question.score = Score::Logit;
            self.concepts = None;
        }
        self.using = own;
    }

    /// The model's last layer, which the head pools.
    pub fn last_layer(&self) -> Layer {
        self.layers.last().map_or(Layer::Layer4, |(layer, _)| *layer)
    }

    /// What the model's layers lead to, which decides the methods defined at each.
    pub fn tail(&self) -> Tail {
        Tail { last: self.last_layer(), linear_head: self.linear_head }
    }

    /// A link may name a class the model does not have (it was edited, or made with another
    /// model): the top class is explained instead, and the visitor told why.
    fn forget_missing_classes(&mut self) {
        let mut missing = Vec::new();
        if let Some(class) = self.question.class.filter(|&c| c >= self.classes) {
            self.question.class = None;
            missing.push(class.to_string());
        }
        if let Score::Versus(other) = self.question.score
            && other >= self.classes
        {
            self.question.score = Score::Logit;
            missing.push(other.to_string());
        }
        if !missing.is_empty() {
            let text = format!(
                "The link names class {}, which this model does not have (its classes are 0 to {}): the top class is explained instead.",
                missing.join(" and "),
                self.classes.saturating_sub(1)
            );
            self.link_notice = Some(Notice { text, details: None });
        }
    }

    /// A link made with the same file converted otherwise (other conversion options) shows
    /// other answers: the visitor is told how to see the link's.
    fn say_other_setup(&mut self, linked: Option<Setup>) {
        let (Some(linked), Some(ours)) = (linked, self.setup) else { return };
        if linked == ours {
            return;
        }
        let name = self.using.as_ref().map_or("", |m| m.name.as_str());
        let text = format!(
            "This link was made with {name} converted for {linked}; here it is converted for {ours}, so its answers can differ: convert the file again with the link's conversion options to see what the link shows."
        );
        // After a class the model lacks, said first.
        let said = self.link_notice.take().map(|n| format!("{} ", n.text)).unwrap_or_default();
        self.link_notice = Some(Notice { text: format!("{said}{text}"), details: None });
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::ModelProgress { loaded, total } => {
                if let ModelState::Loading { .. } = self.model {
                    self.model = ModelState::Loading { loaded, total };
                }
            }
            Action::ModelReady {
                backend,
                ms,
                cached,
                notice,
                model_notice,
                own,
                setup,
                classes,
                layers,
                linear_head,
            } => {
                self.model = ModelState::Ready { backend, ms, cached };
                self.setup = setup;
                self.model_number += 1;
                self.classes = classes;
                self.layers = layers;
                self.linear_head = linear_head;
                // A CIFAR ResNet ends at layer3: what was asked of layer4 is asked of it.
                if self.question.layer > self.last_layer() {
                    self.question.layer = self.last_layer();
                }
                if notice.is_some() {
                    self.notice = notice;
                }
                self.model_notice = model_notice;
                if own.as_ref().is_some_and(|m| self.wanted.as_ref().is_some_and(|w| w.sha256 == m.sha256)) {
                    self.wanted = None;
                }
                self.choose_model(own);
            }
            Action::SwitchModel(own) => {
                self.model = ModelState::Loading { loaded: 0, total: None };
                self.setup = None;
                self.model_notice = None;
                self.link_notice = None;
                self.forget_device_jobs("another model was chosen");
                self.choose_model(own);
            }
            Action::ModelsListed(models) => self.own_models = models,
            Action::WantModel(model) => self.wanted = Some(model),
            Action::Converting(step) => self.conversion = Conversion::Running(step),
            Action::Converted { model, ms, unkept, notes } => {
                self.conversion = Conversion::Done { name: model.name.clone(), ms, unkept: unkept.clone(), notes };
                // The same file converted again (with other class names, say) replaces the first.
                if unkept.is_none() {
                    self.own_models.retain(|m| m.sha256 != model.sha256);
                    self.own_models.push(model);
                }
            }
            Action::ConvertFailed(error) => self.conversion = Conversion::Failed(error),
            Action::ConvertCancelled => self.conversion = Conversion::Idle,
            Action::ModelDeleted(sha256) => self.own_models.retain(|m| m.sha256 != sha256),
            Action::ModelFailed(error) => {
                self.model = ModelState::Failed;
                self.error = Some(format!("Could not load the model: {error}"));
            }
            Action::DeviceLost(notice) => {
                self.model = ModelState::Loading { loaded: 0, total: None };
                self.notice = Some(notice);
                self.forget_device_jobs("WebGPU stopped working");
            }
            Action::AddPhoto(photo) => self.add_photo(photo),
            Action::OpenLink(photo, settings) => {
                self.add_photo(photo);
                self.link_notice = None;
                // The top class the link names is the top class: the question answered already.
                let top = self.top_class();
                self.question =
                    Question { class: settings.question.class.filter(|c| Some(*c) != top), ..settings.question };
                self.look = settings.look;
                self.k = settings.k;
                // A comparison shown already is not made again.
                self.compare_on_open = settings.compare && self.compared().is_none();
                self.forget_missing_classes();
                self.say_other_setup(settings.setup);
            }
            Action::SetMethod(method) => self.question.method = method,
            Action::SetLayer(layer) => self.question.layer = layer,
            Action::SetClass(class) => {
                // The top class chosen by name is the top class: the question answered already
                // (or being asked again, while the photo's last answer is shown dimmed).
                let top = self.top_class();
                self.question.class = class.filter(|c| Some(*c) != top);
                // A class against itself explains nothing.
                if matches!(self.question.score, Score::Versus(other) if Some(other) == class) {
                    self.question.score = Score::Logit;
                }
            }
            Action::SetScore(score) => self.question.score = score,
            Action::SetColormap(colormap) => self.look.colormap = colormap,
            Action::SetOpacity(opacity) => self.look.opacity = opacity.min(100),
            Action::SetK(k) => self.k = k.clamp(1, 16),
            Action::TogglePick(id) => match self.picks.iter().position(|p| *p == id) {
                Some(i) => drop(self.picks.remove(i)),
                None => self.picks.push(id),
            },
            Action::ToggleConcept(i) => {
                self.concept_shown = if self.concept_shown == Some(i) { None } else { Some(i) };
            }
            Action::AnalysisStarted => self.jobs += 1,
            Action::AnalysisProgressed(key, done, of) => {
                if Some(&key) == self.analysis_key().as_ref() {
                    self.analysis_progress = Some((key, done, of));
                }
            }
            Action::CancelAnalysis => {
                // The last method answered, if it needs no passes of its own and is defined at the
                // layer chosen since.
                let (layer, tail) = (self.question.layer, self.tail());
                let fits = |name: &String| {
                    xai_explain::method(name).is_ok_and(|m| !m.runs_own_passes() && m.supports(layer, tail))
                };
                let last = self.explained.as_ref().map(|e| &e.key.question.method).filter(|m| fits(m));
                self.question.method = last.cloned().unwrap_or_else(|| Question::default().method);
            }
            Action::Analysed(result) => {
                let key = match &result {
                    Ok(explained) => &explained.key,
                    Err((key, _)) => key,
                };
                if Some(key) != self.analysis_key().as_ref() {
                    return; // a newer photo or question took over
                }
                self.answered = Some(key.clone());
                match result {
                    Ok(explained) => {
                        self.explained = Some(Rc::new(explained));
                        self.error = None;
                    }
                    Err((_, error)) => self.error = Some(error),
                }
            }
            Action::FactorizeStarted(key) => {
                self.jobs += 1;
                self.factorizing = Some((key, 0));
            }
            Action::FactorizeProgressed(key, done) => {
                if let Some((_, photos_done)) = self.factorizing.as_mut().filter(|(k, _)| *k == key) {
                    *photos_done = done;
                }
            }
            Action::FactorizeCancelled(key) => {
                if self.factorizing.as_ref().is_some_and(|(k, _)| *k == key) {
                    self.factorizing = None;
                }
            }
            Action::Factorized(key, result) => {
                if self.factorizing.as_ref().is_none_or(|(k, _)| *k != key) {
                    return;
                }
                self.factorizing = None;
                match result {
                    Ok(concepts) => {
                        self.concepts = Some((key, concepts));
                        self.concept_shown = None;
                    }
                    Err(error) => self.error = Some(error),
                }
            }
            Action::CompareStarted(key) => {
                self.jobs += 1;
                self.compare_on_open = false;
                self.comparing = Some(key);
            }
            Action::ComparedMaps(key, result) => {
                if self.comparing.as_ref() != Some(&key) {
                    return;
                }
                match result {
                    Ok(comparison) => self.comparison = Some(Rc::new(comparison)),
                    Err(error) => {
                        self.comparing = None;
                        self.error = Some(error);
                    }
                }
            }
            Action::Scored(key, name, scores, cost) => {
                if let Some(comparison) = self.comparison.as_mut().filter(|c| c.key == key)
                    && let Some(method) = Rc::make_mut(comparison).methods.iter_mut().find(|m| m.method == name)
                {
                    method.scores = Some((scores, cost));
                    self.compare_progress = None;
                }
            }
            Action::CompareProgressed(key, progress) => {
                if self.comparing.as_ref() == Some(&key) {
                    self.compare_progress = Some(progress);
                }
            }
            Action::ComparedMap(key, compared, ms) => {
                self.compare_progress = None;
                if let Some(comparison) = self.comparison.as_mut().filter(|c| c.key == key) {
                    let comparison = Rc::make_mut(comparison);
                    comparison.methods.retain(|m| m.method != compared.method);
                    comparison.own_passes_ms.push((compared.method, ms));
                    comparison.methods.push(compared);
                }
            }
            Action::CompareEnded(key, error) => {
                if self.comparing.as_ref() == Some(&key) {
                    self.comparing = None;
                    self.compare_progress = None;
                    if error.is_some() {
                        self.error = error;
                    }
                }
            }
            Action::SortBy(metric) => self.sort = metric,
            Action::SanityStarted(key) => {
                self.jobs += 1;
                self.checking = Some((key, 0));
            }
            Action::SanityStepped(key, done) => {
                if let Some((_, steps)) = self.checking.as_mut().filter(|(k, _)| *k == key) {
                    *steps = done;
                }
            }
            Action::SanityChecked(report) => {
                if self.checking.as_ref().is_some_and(|(k, _)| *k == report.key) {
                    self.checking = None;
                    self.sanity = Some(Rc::new(report));
                }
            }
            Action::SanityEnded(key, error) => {
                if self.checking.as_ref().is_some_and(|(k, _)| *k == key) {
                    self.checking = None;
                    if error.is_some() {
                        self.error = error;
                    }
                }
            }
            Action::AuditStarted { run, folder, labels, total, notes, at_ms } => {
                self.jobs += 1;
                // A folder that could not be read before is no longer the news.
                self.error = None;
                let report = xai_audit::Report { notes, ..xai_audit::Report::default() };
                self.audit = Some(Rc::new(Audit {
                    run,
                    folder,
                    labels,
                    total,
                    started_ms: at_ms,
                    latest_ms: at_ms,
                    report,
                    pictures: xai_audit::html::Pictures::default(),
                    stage: AuditStage::Classifying,
                }));
            }
            Action::AuditClassified(run, photos, at_ms) => {
                if let Some(audit) = self.audit_run(run) {
                    audit.report.photos.extend(photos);
                    audit.latest_ms = at_ms;
                }
            }
            Action::AuditExplaining(run, classes) => {
                if let Some(audit) = self.audit_run(run) {
                    audit.stage = AuditStage::Explaining { classes_done: 0, classes };
                }
            }
            Action::AuditOverlay(run, path, url) => {
                if let Some(audit) = self.audit_run(run) {
                    audit.pictures.overlays.insert(path, url);
                }
            }
            Action::AuditConcepts(run, concepts, regions) => {
                if let Some(audit) = self.audit_run(run) {
                    for (k, region) in regions.into_iter().enumerate() {
                        audit.pictures.regions.insert((concepts.class, k), region);
                    }
                    audit.report.concepts.push(concepts);
                    if let AuditStage::Explaining { classes_done, .. } = &mut audit.stage {
                        *classes_done += 1;
                    }
                }
            }
            Action::AuditEnded(run, stage) => {
                if let Some(audit) = self.audit_run(run) {
                    let stage = stage.unwrap_or(AuditStage::Done);
                    let how = match &stage {
                        AuditStage::Cancelled => Some("cancelled".to_string()),
                        AuditStage::Stopped(why) => Some(format!("stopped ({why})")),
                        _ => None,
                    };
                    if let Some(how) = how {
                        let note = xai_audit::stopped_note(&how, audit.report.photos.len(), audit.total);
                        audit.report.note(note);
                    }
                    audit.stage = stage;
                }
            }
            Action::Error(error) => self.error = Some(error),
        }
    }

    /// The audit to change, if `run` is the newest one and it is still under way.
    fn audit_run(&mut self, run: u64) -> Option<&mut Audit> {
        self.audit.as_mut().filter(|a| a.run == run && a.running()).map(Rc::make_mut)
    }

    /// The reducer: the state after `action`.
    pub fn after(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        next.apply(action);
        Rc::new(next)
    }
}
