//! The evidence of the compare view and the sanity checks, as the visitor downloads it: one JSON
//! object per method (the `Evidence` that `xai eval --json` and `xai sanity --json` write) and
//! a PNG report card of every overlay with its scores and verdict.

use image::RgbaImage;
use xai_explain::evidence::{Evidence, VERSION};
use xai_explain::render::overlay;
use xai_explain::Map;

use crate::canvas::{download, download_text, report_card};
use crate::engine::Engine;
use crate::state::{CompareKey, Comparison, GalleryPhoto, Look, SanityReport};

/// What a report holds: the comparison and the sanity checks of one photo, layer and class
/// (either may be missing), with the class they explain.
pub struct Report<'a> {
    pub engine: &'a Engine,
    pub photo: &'a GalleryPhoto,
    pub comparison: Option<&'a Comparison>,
    pub sanity: Option<&'a SanityReport>,
}

impl Report<'_> {
    fn key_and_class(&self) -> Option<(&CompareKey, usize)> {
        match (self.comparison, self.sanity) {
            (Some(c), _) => Some((&c.key, c.class)),
            (None, Some(s)) => Some((&s.key, s.class)),
            (None, None) => None,
        }
    }

    /// Each method's map, from the comparison, else from the sanity check.
    fn maps(&self) -> Vec<(&'static str, &Map)> {
        match (self.comparison, self.sanity) {
            (Some(c), _) => c.methods.iter().map(|m| (m.method, &m.map)).collect(),
            (None, Some(s)) => s.methods.iter().map(|(method, map, _)| (*method, map)).collect(),
            (None, None) => Vec::new(),
        }
    }

    /// One evidence per method, with the scores and checks there are.
    pub fn evidence(&self) -> Vec<Evidence> {
        let Some((key, class)) = self.key_and_class() else { return Vec::new() };
        let target = key.target();
        let evidence = self.maps().into_iter().filter_map(|(name, map)| {
            let method = xai_explain::method(name).ok()?;
            let scores = self.comparison.and_then(|c| c.methods.iter().find(|m| m.method == name)?.scores.clone());
            let sanity =
                self.sanity.and_then(|s| s.methods.iter().find(|(m, _, _)| *m == name).map(|(_, _, s)| s.clone()));
            let evidence =
                Evidence::new(&self.engine.info, &self.photo.crop, class, &target, method, key.layer, map.clone());
            Some(Evidence { scores: scores.map(|(scores, _)| scores), sanity, ..evidence.named(&self.photo.name) })
        });
        evidence.collect()
    }

    /// Saves the evidence as JSON and the card as PNG.
    pub fn download(&self, look: Look, model_name: &str) {
        let evidence = self.evidence();
        let Some(first) = evidence.first() else { return };
        if let Ok(json) = serde_json::to_string_pretty(&evidence) {
            download_text(&json, "application/json", "xai-lens-evidence.json");
        }
        let alpha = f32::from(look.opacity) / 100.0;
        let mut images: Vec<(Vec<String>, RgbaImage)> = vec![(
            vec![format!("{} ({})", first.label, first.class)],
            image::DynamicImage::from(self.photo.crop.clone()).to_rgba8(),
        )];
        for item in &evidence {
            let mut caption = vec![item.method.to_string()];
            if let Some(scores) = &item.scores {
                caption.push(format!(
                    "drop {:.1} del {:.3} ins {:.3} ROAD {:.3}",
                    scores.faithfulness.drop,
                    scores.faithfulness.deletion,
                    scores.faithfulness.insertion,
                    scores.road.combined
                ));
            }
            if let Some(sanity) = &item.sanity {
                let passes = sanity.passes_randomization() && sanity.passes_random_logit();
                caption.push(if passes { "passes the sanity checks" } else { "fails a sanity check" }.to_string());
            }
            images.push((caption, overlay(&self.photo.crop, &item.map, look.colormap, alpha)));
        }
        let lines = [
            format!(
                "{} at {}, class {} ({}), its {}",
                self.photo.name, first.layer, first.class, first.label, first.score
            ),
            format!(
                "{model_name} ({}), weights {}; photo {}",
                first.precision,
                &first.model_sha256[..16],
                &first.photo_sha256[..16]
            ),
            format!("xai-lens {VERSION}; the JSON file holds every map, score and check"),
        ];
        if let Some(card) = report_card(self.photo.crop.width(), &images, &lines) {
            download(&card, "xai-lens-report.png");
        }
    }
}
