//! The page's state: one value that only [`Action`]s change, behind yew's `use_reducer` (as in
//! yew's `function_todomvc`). Plain Rust, so it is tested natively.
//!
//! What the network computes ([`Question`]) is kept apart from how its map is painted
//! ([`Look`]): changing the colormap or the opacity repaints the map already read back, and
//! only a new photo, method, layer or class runs the network again.

use std::rc::Rc;

use image::RgbImage;
use xai_explain::render::Colormap;
use xai_explain::{Concepts, Map};
use xai_model::{Layer, Prediction};
use xai_share::{Photo as PhotoSource, Shared};

/// A photo the page can explain: its crop for the network, and how a share link names it.
#[derive(Debug)]
pub struct GalleryPhoto {
    /// Unique within the page, so a result can be matched to the photo it was made for.
    pub id: u64,
    pub name: String,
    pub crop: RgbImage,
    pub source: PhotoSource,
}

impl PartialEq for GalleryPhoto {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// A photo before it joins the gallery (the gallery numbers it).
pub struct NewPhoto {
    pub name: String,
    pub crop: RgbImage,
    pub source: PhotoSource,
}

/// What the network computes: changing any of these runs it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub method: String,
    pub layer: Layer,
    /// The class to explain; `None` is the top-1 class.
    pub class: Option<usize>,
}

/// How a map is painted: changing these only repaints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub colormap: Colormap,
    /// Heatmap opacity over the photo, in percent.
    pub opacity: u8,
}

/// Settings a share link carries.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSettings {
    pub question: Question,
    pub look: Look,
    pub k: usize,
}

/// The model: downloading, ready on a backend, or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading { loaded: u64, total: Option<u64> },
    Ready { backend: &'static str, ms: f64, cached: bool },
    Failed,
}

/// A message for the visitor in plain words, with the technical reason behind a toggle.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub details: Option<String>,
}

/// What identifies an analysis: a result is shown only while it answers the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisKey {
    /// Which loaded model (a move to the CPU loads another).
    pub model: u64,
    pub photo: u64,
    pub question: Question,
}

/// One photo's classes and raw map, as read back from the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub key: AnalysisKey,
    pub top5: Vec<Prediction>,
    /// The class the map explains.
    pub class: usize,
    pub map: Map,
    /// From the start of the pass to the map on the host.
    pub ms: f64,
}

/// The photos of a factorisation, and its `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorizeKey {
    pub model: u64,
    pub photos: Vec<Rc<GalleryPhoto>>,
    pub k: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    Loading,
    Idle,
    Running,
    Done,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Loading => "loading",
            Status::Idle => "idle",
            Status::Running => "running",
            Status::Done => "done",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub model: ModelState,
    /// Counts the models loaded so far; the current one is number `model_number`.
    pub model_number: u64,
    pub notice: Option<Notice>,
    pub error: Option<String>,
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
    pub factorizing: Option<FactorizeKey>,
    pub concepts: Option<(FactorizeKey, Rc<Concepts>)>,
    /// The one concept painted alone, if any.
    pub concept_shown: Option<usize>,
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
        notice: Option<Notice>,
    },
    ModelFailed(String),
    /// The device stopped answering; another model is being loaded on the CPU.
    DeviceLost(Notice),
    AddPhoto(NewPhoto),
    /// A share link: its photo, shown with its settings.
    OpenLink(NewPhoto, LinkSettings),
    SetMethod(String),
    SetLayer(Layer),
    SetClass(Option<usize>),
    SetColormap(Colormap),
    SetOpacity(u8),
    SetK(usize),
    TogglePick(u64),
    /// Paint one concept alone, or all of them again when it is the one shown.
    ToggleConcept(usize),
    AnalysisStarted,
    Analysed(Result<Explained, (AnalysisKey, String)>),
    FactorizeStarted(FactorizeKey),
    Factorized(FactorizeKey, Result<Rc<Concepts>, String>),
    Error(String),
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            model: ModelState::Loading { loaded: 0, total: None },
            model_number: 0,
            notice: None,
            error: None,
            gallery: Vec::new(),
            current: None,
            question: Question { method: "gradcam".into(), layer: Layer::Layer4, class: None },
            look: Look { colormap: Colormap::Jet, opacity: 50 },
            k: 5,
            picks: Vec::new(),
            jobs: 0,
            answered: None,
            explained: None,
            factorizing: None,
            concepts: None,
            concept_shown: None,
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

    pub fn status(&self) -> Status {
        match self.model {
            ModelState::Loading { .. } => Status::Loading,
            ModelState::Failed => Status::Idle,
            ModelState::Ready { .. } if self.factorizing.is_some() => Status::Running,
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

    /// The share link's fragment for what is shown: the photo, the question with its class
    /// fixed, the look and k.
    pub fn share_fragment(&self) -> Option<String> {
        let (photo, shown) = (self.current.as_ref()?, self.shown()?);
        let link = Shared {
            photo: photo.source.clone(),
            method: self.question.method.clone(),
            layer: self.question.layer.to_string(),
            class: Some(shown.class),
            colormap: self.look.colormap.name().into(),
            opacity: self.look.opacity,
            k: self.k,
        };
        Some(link.to_fragment())
    }

    fn add_photo(&mut self, photo: NewPhoto) {
        self.next_photo += 1;
        let photo =
            Rc::new(GalleryPhoto { id: self.next_photo, name: photo.name, crop: photo.crop, source: photo.source });
        // The same demo (or the same JPEG) twice is one photo.
        self.gallery.retain(|p| p.source != photo.source);
        self.gallery.push(photo.clone());
        self.current = Some(photo);
        self.question.class = None;
        self.error = None;
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::ModelProgress { loaded, total } => self.model = ModelState::Loading { loaded, total },
            Action::ModelReady { backend, ms, cached, notice } => {
                self.model = ModelState::Ready { backend, ms, cached };
                self.model_number += 1;
                if notice.is_some() {
                    self.notice = notice;
                }
            }
            Action::ModelFailed(error) => {
                self.model = ModelState::Failed;
                self.error = Some(format!("Could not load the model: {error}"));
            }
            Action::DeviceLost(notice) => {
                self.model = ModelState::Loading { loaded: 0, total: None };
                self.notice = Some(notice);
                self.factorizing = None;
            }
            Action::AddPhoto(photo) => self.add_photo(photo),
            Action::OpenLink(photo, settings) => {
                self.add_photo(photo);
                self.question = settings.question;
                self.look = settings.look;
                self.k = settings.k;
            }
            Action::SetMethod(method) => self.question.method = method,
            Action::SetLayer(layer) => self.question.layer = layer,
            Action::SetClass(class) => self.question.class = class,
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
                self.factorizing = Some(key);
            }
            Action::Factorized(key, result) => {
                if self.factorizing.as_ref() != Some(&key) {
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
            Action::Error(error) => self.error = Some(error),
        }
    }

    /// The reducer: the state after `action`.
    pub fn after(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        next.apply(action);
        Rc::new(next)
    }
}

/// A share link's settings, checked as a whole against what the page offers: a method at a
/// layer where it is not defined is refused, like an unknown name.
pub fn settings_from_link(link: &Shared) -> Result<LinkSettings, String> {
    let invalid = |e: String| format!("share link: {e}");
    let method = xai_explain::method(&link.method).map_err(|e| invalid(e.to_string()))?;
    let layer: Layer = link.layer.parse().map_err(invalid)?;
    if !method.supports(layer) {
        return Err(invalid(format!("{} is not defined at {layer}", method.name())));
    }
    Ok(LinkSettings {
        question: Question { method: link.method.clone(), layer, class: link.class },
        look: Look { colormap: link.colormap.parse().map_err(invalid)?, opacity: link.opacity },
        k: link.k.clamp(1, 16),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(name: &str) -> NewPhoto {
        NewPhoto { name: name.into(), crop: RgbImage::new(4, 4), source: PhotoSource::Demo(name.into()) }
    }

    fn ready() -> Rc<AppState> {
        let ready = Action::ModelReady { backend: "CPU", ms: 1.0, cached: false, notice: None };
        Rc::new(AppState::default()).after(ready)
    }

    fn explained(key: AnalysisKey, class: usize) -> Explained {
        Explained { key, top5: Vec::new(), class, map: Map::new(1, 1, vec![1.0]), ms: 1.0 }
    }

    #[test]
    fn only_the_answer_to_the_newest_question_is_shown() {
        let state = ready().after(Action::AddPhoto(photo("chelsea")));
        assert_eq!(state.status(), Status::Running);
        let first = state.analysis_key().unwrap();
        let state = state.after(Action::AnalysisStarted).after(Action::AddPhoto(photo("coffee")));
        let second = state.analysis_key().unwrap();
        let state = state.after(Action::AnalysisStarted);
        assert_eq!(state.jobs, 2);
        // The first photo's result comes last: it is dropped.
        let state = state.after(Action::Analysed(Ok(explained(second.clone(), 967))));
        let state = state.after(Action::Analysed(Ok(explained(first, 285))));
        assert_eq!(state.shown().map(|e| e.class), Some(967));
        assert_eq!(state.status(), Status::Done);
        assert_eq!(state.gallery.len(), 2);
    }

    #[test]
    fn painting_settings_do_not_change_the_question() {
        let state = ready().after(Action::AddPhoto(photo("chelsea")));
        let key = state.analysis_key().unwrap();
        let state = state.after(Action::Analysed(Ok(explained(key.clone(), 285))));
        let state = state.after(Action::SetOpacity(80)).after(Action::SetColormap(Colormap::Turbo));
        assert_eq!(state.analysis_key(), Some(key));
        assert!(state.shown().is_some());
        let state = state.after(Action::SetLayer(Layer::Layer3));
        assert_eq!(state.shown(), None);
        assert_eq!(state.status(), Status::Running);
    }

    #[test]
    fn a_failed_analysis_ends_the_job_with_its_message() {
        let state = ready().after(Action::AddPhoto(photo("chelsea")));
        let key = state.analysis_key().unwrap();
        let state = state.after(Action::AnalysisStarted).after(Action::Analysed(Err((key, "broken".into()))));
        assert_eq!((state.status(), state.error.as_deref()), (Status::Done, Some("broken")));
        let state = state.after(Action::AddPhoto(photo("coffee")));
        assert_eq!(state.error, None);
    }

    #[test]
    fn the_same_photo_twice_is_one_gallery_entry_and_clears_the_class() {
        let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetClass(Some(3)));
        let state = state.after(Action::AddPhoto(photo("coffee"))).after(Action::AddPhoto(photo("chelsea")));
        let names: Vec<&str> = state.gallery.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["coffee", "chelsea"]);
        assert_eq!(state.question.class, None);
        assert_eq!(state.current.as_ref().map(|p| p.id), Some(3));
    }

    #[test]
    fn dff_uses_the_ticked_photos_or_else_the_current_one() {
        let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::AddPhoto(photo("coffee")));
        assert_eq!(state.dff_photos().iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
        let state = state.after(Action::TogglePick(1)).after(Action::TogglePick(2)).after(Action::TogglePick(2));
        assert_eq!(state.dff_photos().iter().map(|p| p.id).collect::<Vec<_>>(), [1]);
        let key = FactorizeKey { model: 1, photos: state.dff_photos(), k: 5 };
        let state = state.after(Action::FactorizeStarted(key.clone()));
        assert_eq!(state.status(), Status::Running);
        let stale = FactorizeKey { k: 3, ..key.clone() };
        let state = state.after(Action::Factorized(stale, Err("old".into())));
        assert_eq!((state.status(), state.error.clone()), (Status::Running, None));
        let state = state.after(Action::Factorized(key, Err("failed".into())));
        assert_eq!((state.factorizing.is_none(), state.error.as_deref()), (true, Some("failed")));
    }

    #[test]
    fn a_lost_device_reloads_and_asks_again() {
        let state = ready().after(Action::AddPhoto(photo("chelsea")));
        let before = state.analysis_key().unwrap();
        let lost = Notice { text: "moved".into(), details: None };
        let state = state.after(Action::DeviceLost(lost));
        assert_eq!((state.status(), state.analysis_key()), (Status::Loading, None));
        let state = state.after(Action::ModelReady { backend: "CPU", ms: 1.0, cached: true, notice: None });
        assert_ne!(state.analysis_key(), Some(before));
        assert_eq!(state.notice.as_ref().map(|n| n.text.as_str()), Some("moved"));
    }

    fn link(method: &str, layer: &str) -> Shared {
        Shared {
            photo: PhotoSource::Demo("chelsea".into()),
            method: method.into(),
            layer: layer.into(),
            class: Some(281),
            colormap: "turbo".into(),
            opacity: 60,
            k: 4,
        }
    }

    #[test]
    fn links_are_checked_as_a_whole() {
        let settings = settings_from_link(&link("gradcam++", "layer3")).unwrap();
        let question = Question { method: "gradcam++".into(), layer: Layer::Layer3, class: Some(281) };
        assert_eq!(settings, LinkSettings { question, look: Look { colormap: Colormap::Turbo, opacity: 60 }, k: 4 });
        for (method, layer, expected) in [
            ("cam", "layer3", "cam is not defined at layer3"),
            ("nope", "layer4", "unknown method 'nope'"),
            ("gradcam", "layer9", "unknown layer 'layer9'"),
        ] {
            let error = settings_from_link(&link(method, layer)).unwrap_err();
            assert!(error.starts_with("share link: ") && error.contains(expected), "{error}");
        }
        let bad_colormap = Shared { colormap: "plasma".into(), ..link("gradcam", "layer4") };
        assert!(settings_from_link(&bad_colormap).unwrap_err().contains("unknown colormap"));
    }

    #[test]
    fn a_shared_view_opens_as_it_was_shared() {
        let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetMethod("layercam".into()));
        let state = state.after(Action::SetLayer(Layer::Layer2)).after(Action::SetOpacity(70));
        let key = state.analysis_key().unwrap();
        let state = state.after(Action::Analysed(Ok(explained(key, 285))));
        let fragment = state.share_fragment().unwrap();
        let shared = Shared::from_fragment(&fragment).unwrap();
        let settings = settings_from_link(&shared).unwrap();
        let opened = ready().after(Action::OpenLink(photo("chelsea"), settings));
        assert_eq!(opened.question, Question { class: Some(285), ..state.question.clone() });
        assert_eq!((opened.look, opened.k), (state.look, state.k));
    }
}
