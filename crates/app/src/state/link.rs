//! Share links: the fragment for what the page shows, and a link's settings checked as a whole.

use xai_model::Layer;
use xai_share::{ModelRef, Shared};

use super::{AppState, LinkSettings, Look, Question};

impl AppState {
    /// The share link's fragment for what is shown: the photo, the question with its class
    /// fixed, the look and k.
    pub fn share_fragment(&self) -> Option<String> {
        let (photo, shown) = (self.current.as_ref()?, self.shown()?);
        let link = Shared {
            model: self.using.as_ref().map(|m| ModelRef { name: m.name.clone(), sha256: m.sha256.clone() }),
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
