//! Share links: the fragment for what the page shows, and a link's settings checked as a whole.

use xai_explain::Score;
use xai_model::architecture::Tail;
use xai_model::Layer;
use xai_share::{ModelRef, Shared};

use super::{AppState, LinkSettings, Look, Question};

impl AppState {
    /// The share link's fragment for what is shown: the photo, the question with its class
    /// fixed, the look, k, and whether the comparison of every method is open.
    pub fn share_fragment(&self) -> Option<String> {
        let (photo, shown) = (self.current.as_ref()?, self.shown()?);
        let link = Shared {
            model: self.using.as_ref().map(|m| ModelRef {
                name: m.name.clone(),
                sha256: m.sha256.clone(),
                setup: self.setup,
            }),
            photo: photo.source.clone(),
            method: self.question.method.clone(),
            layer: self.question.layer.to_string(),
            class: Some(shown.class),
            versus: match self.question.score {
                Score::Versus(other) => Some(other),
                Score::Logit | Score::Probability => None,
            },
            probability: self.question.score == Score::Probability,
            colormap: self.look.colormap.name().into(),
            opacity: self.look.opacity,
            k: self.k,
            compare: self.compared().is_some(),
        };
        Some(link.to_fragment())
    }
}

/// A share link's settings, checked as a whole against what the page offers with a model that
/// ends in `tail`: a layer it does not have, or a method at a layer where it is not defined, is
/// refused, like an unknown name.
pub fn settings_from_link(link: &Shared, tail: Tail) -> Result<LinkSettings, String> {
    let last = tail.last;
    let invalid = |e: String| format!("share link: {e}");
    let method = xai_explain::method(&link.method).map_err(|e| invalid(e.to_string()))?;
    let layer: Layer = link.layer.parse().map_err(invalid)?;
    if layer > last {
        return Err(invalid(format!("this model has no {layer}: its last layer is {last}")));
    }
    if !method.supports(layer, tail) {
        return Err(invalid(match layer == last {
            true => format!("{} reads a head of one Linear, which this model has not", method.name()),
            false => format!("{} is not defined at {layer}", method.name()),
        }));
    }
    let score = match (link.versus, link.probability) {
        (Some(other), _) => Score::Versus(other),
        (None, true) => Score::Probability,
        (None, false) => Score::Logit,
    };
    Ok(LinkSettings {
        question: Question { method: link.method.clone(), layer, class: link.class, score },
        look: Look { colormap: link.colormap.parse().map_err(invalid)?, opacity: link.opacity },
        k: link.k.clamp(1, 16),
        compare: link.compare,
        setup: link.model.as_ref().and_then(|m| m.setup),
    })
}
