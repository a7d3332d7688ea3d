//! What a report says about one explanation: which model and photo, which class, target, method
//! and layer, the raw map, every score and the sanity checks, and the xai-lens that made it.
//! `xai eval --json` and `xai sanity --json` write one per photo and method; the page's report
//! holds the same.

use crate::map::Map;
use crate::methods::CamMethod;
use crate::metrics::Scores;
use crate::pipeline::{Score, Target};
use crate::sanity::Sanity;
use image::RgbImage;
use xai_model::convert::sha256_hex;
use xai_model::{Layer, WeightsInfo};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub xai_lens: &'static str,
    /// Where the weights came from (a package or a file name) and that file's SHA-256.
    pub model: String,
    pub model_sha256: String,
    /// Converted from that file's EMA copy of the network (`xai convert --ema`); left out for
    /// the network trained.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub model_ema: bool,
    /// The converted weights: their precision ("int8" or "f32") and checksum (`sha256:` of
    /// their tensors and metadata). One source file converts to either precision, and the two
    /// answer slightly differently.
    pub precision: &'static str,
    pub weights_checksum: String,
    /// The photo: its file as the command line named it, or its name in the page ([`named`]).
    ///
    /// [`named`]: Evidence::named
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// SHA-256 of the crop the network saw (its RGB bytes, row by row), the same in the page
    /// and the CLI for the same crop, as for a demo photo. (The page explains an upload through
    /// the JPEG its share link carries, so its crop, and this, differ slightly from the CLI's for
    /// the same file.)
    pub photo_sha256: String,
    pub class: usize,
    pub label: String,
    /// "top-1" when the class was the network's first choice, else "chosen".
    pub target: &'static str,
    /// Which of the class's scores the map explains.
    pub score: Score,
    pub method: &'static str,
    pub layer: String,
    /// The raw map at the layer's resolution (after the ReLU, before normalising).
    pub map: Map,
    pub scores: Option<Scores>,
    pub sanity: Option<Sanity>,
}

impl Evidence {
    /// The evidence of `map`, which explains `class` of `crop` for `target` with `method` at
    /// `layer`, without scores or sanity checks yet.
    pub fn new(
        weights: &WeightsInfo,
        crop: &RgbImage,
        class: usize,
        target: &Target,
        method: &dyn CamMethod,
        layer: Layer,
        map: Map,
    ) -> Self {
        let model = &weights.model;
        Self {
            xai_lens: VERSION,
            model: model.source.clone(),
            model_sha256: model.source_sha256.clone(),
            model_ema: model.ema,
            precision: weights.precision.name(),
            weights_checksum: weights.checksum.clone(),
            photo: None,
            photo_sha256: crop_sha256(crop),
            class,
            label: model.labels.name(class).unwrap_or_default().to_string(),
            target: if target.classes.is_some() { "chosen" } else { "top-1" },
            score: target.score,
            method: method.name(),
            layer: layer.to_string(),
            map,
            scores: None,
            sanity: None,
        }
    }
}

impl Evidence {
    /// The same evidence, naming its photo.
    pub fn named(self, photo: &str) -> Self {
        Self { photo: Some(photo.into()), ..self }
    }
}

/// The `xai_lens` of every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `photo_sha256` of a crop.
pub fn crop_sha256(crop: &RgbImage) -> String {
    sha256_hex(crop.as_raw())
}
