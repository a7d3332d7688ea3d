//! The values the state holds: photos, what is asked of the network and how its answer is
//! painted, the model's state, and the keys that tie results to what they answer.

use std::rc::Rc;

use image::RgbImage;
use xai_explain::metrics::Scores;
use xai_explain::render::Colormap;
use xai_explain::sanity::Sanity;
use xai_explain::{CamMethod, Map, Score, Target};
use xai_model::architecture::Tail;
use xai_model::{Labels, Layer, Prediction};
use xai_share::Photo as PhotoSource;

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
    /// Which of the class's scores: its logit, its probability, or its contrast with another.
    pub score: Score,
}

impl Default for Question {
    /// Grad-CAM of the top class's logit at layer4.
    fn default() -> Self {
        Self { method: "gradcam".into(), layer: Layer::Layer4, class: None, score: Score::Logit }
    }
}

impl Question {
    pub fn target(&self) -> Target {
        Target::chosen(self.class).scoring(self.score)
    }
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
    /// Open the comparison of every method too.
    pub compare: bool,
    /// How the link's own model was converted, where the link says.
    pub setup: Option<xai_share::Setup>,
}

/// The model: downloading, ready on a backend, or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading { loaded: u64, total: Option<u64> },
    Ready { backend: &'static str, ms: f64, cached: bool },
    Failed,
}

/// A visitor's own model, kept in this browser and listed by the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredModel {
    /// The file it was converted from.
    pub name: String,
    /// SHA-256 of that file, in hex: how a share link names the model.
    pub sha256: String,
    pub architecture: String,
    pub classes: usize,
}

impl StoredModel {
    /// Enough of the hash to tell models apart at a glance.
    pub fn short_hash(&self) -> &str {
        &self.sha256[..self.sha256.len().min(12)]
    }
}

/// Turning a visitor's model file into a model of the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Conversion {
    Idle,
    /// The step under way, in words.
    Running(String),
    Done {
        name: String,
        ms: f64,
        /// Why the browser would not keep it, if it would not.
        unkept: Option<String>,
        /// What of the file the model leaves out.
        notes: Vec<String>,
    },
    Failed(String),
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

/// What a comparison of the methods answers: the photo, layer and class (and the model).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareKey {
    pub model: u64,
    pub photo: u64,
    pub layer: Layer,
    /// The class asked for; `None` is the top-1 class.
    pub class: Option<usize>,
    pub score: Score,
}

impl CompareKey {
    /// What the maps explain: the class asked for (else the top-1 class) and its score.
    pub fn target(&self) -> Target {
        Target::chosen(self.class).scoring(self.score)
    }
}

/// One method in the comparison: its map, then its scores and what they cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub method: &'static str,
    pub map: Map,
    pub scores: Option<(Scores, ScoreCost)>,
}

/// What a method's scores cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreCost {
    Ms(f64),
    /// Nothing: its map normalises to the map of this method, scored before, so the scores are
    /// that method's.
    SameMapAs(&'static str),
}

/// How far the comparison's current step is, for one method: done, of how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CompareProgress {
    /// A method that runs passes of its own: its channels scored.
    Channels(&'static str, usize, usize),
    /// A map being scored: the images it is scored on that have been through the network.
    Images(&'static str, usize, usize),
}

/// Every one-pass method's map of one photo, from one pass, scored one method at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: CompareKey,
    /// The class the maps explain.
    pub class: usize,
    /// The shared pass and every map read back.
    pub maps_ms: f64,
    /// The time each method that runs passes of its own took for its map.
    pub own_passes_ms: Vec<(&'static str, f64)>,
    pub methods: Vec<Compared>,
}

impl Comparison {
    /// The methods that run passes of their own (Ablation-CAM, Score-CAM) not in it yet, for a
    /// model that ends in `tail`.
    pub fn missing_own_passes(&self, tail: Tail) -> Vec<&'static dyn CamMethod> {
        let present = |name: &str| self.methods.iter().any(|m| m.method == name);
        let own = xai_explain::all_methods().iter().filter(|m| m.runs_own_passes() && m.supports(self.key.layer, tail));
        // Ablation-CAM first: at layer4 it takes seconds, Score-CAM minutes.
        let mut missing: Vec<&'static dyn CamMethod> = own.filter(|m| !present(m.name())).copied().collect();
        missing.sort_by_key(|m| m.name() != "ablationcam");
        missing
    }
}

/// The model in use as the page names it: the visitor's own (`using`) or the built-in one.
pub fn model_name(using: Option<&StoredModel>) -> String {
    match using {
        Some(own) => format!("{} ({}, {} classes)", own.name, own.architecture, own.classes),
        None => "ResNet-50, ImageNet".into(),
    }
}

/// The sanity checks of every one-pass method on one photo, layer and class.
#[derive(Debug, Clone, PartialEq)]
pub struct SanityReport {
    pub key: CompareKey,
    /// The class the maps explain, and the name of the random other class (the same for every
    /// method).
    pub class: usize,
    pub random_label: String,
    /// Each method's name, its map by the learned network, and its checks.
    pub methods: Vec<(&'static str, Map, Sanity)>,
    /// The whole check: its nine passes and comparisons.
    pub ms: f64,
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

/// A folder audit: the photos classified so far, the report's pictures as they come, and where
/// the run stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    /// Which run this is: a newer folder or a cancel moves the count on.
    pub run: u64,
    pub folder: String,
    /// The class names of the model that audits it.
    pub labels: Rc<Labels>,
    /// The photos to classify (files that fit the layout).
    pub total: usize,
    /// When it started and when the newest batch came, in the page's milliseconds.
    pub started_ms: f64,
    pub latest_ms: f64,
    pub report: xai_audit::Report,
    pub pictures: xai_audit::html::Pictures,
    pub stage: AuditStage,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuditStage {
    Classifying,
    /// The report's overlays and each class's concepts: so many classes done, of how many.
    Explaining {
        classes_done: usize,
        classes: usize,
    },
    Done,
    Cancelled,
    /// By an error, or by the model it ran on going away: why.
    Stopped(String),
}

impl Audit {
    pub fn running(&self) -> bool {
        matches!(self.stage, AuditStage::Classifying | AuditStage::Explaining { .. })
    }

    /// Photos classified (or found unreadable) per second so far.
    pub fn rate(&self) -> f64 {
        self.report.photos.len() as f64 / ((self.latest_ms - self.started_ms) / 1000.0).max(1e-3)
    }

    /// Seconds left at the rate so far; `None` before the first batch.
    pub fn seconds_left(&self) -> Option<f64> {
        let done = self.report.photos.len();
        (done > 0).then(|| (self.total - done.min(self.total)) as f64 / self.rate())
    }
}
