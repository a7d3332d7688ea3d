//! Share links: the app's settings and its photo in the URL fragment, which browsers never send
//! to a server. A demo photo travels as its name; an uploaded one as the JPEG of its centre crop
//! (the app explains that same JPEG, so the link reproduces exactly what was seen).

use std::fmt::Write as _;
use std::io::Cursor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use image::RgbImage;

/// Links longer than this are refused before any decoding (a 224x224 JPEG needs about 25 KB).
pub const MAX_FRAGMENT: usize = 200_000;
const VERSION: &str = "1";
/// JPEG quality of shared crops: small links, differences far below what a heatmap shows.
const JPEG_QUALITY: u8 = 90;

#[derive(Debug, Clone, PartialEq)]
pub enum Photo {
    /// A bundled demo photo, by name.
    Demo(String),
    /// JPEG bytes of the cropped photo.
    Jpeg(Vec<u8>),
}

/// Everything needed to reproduce a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    pub photo: Photo,
    pub method: String,
    pub layer: String,
    /// The explained class; `None` is the top-1 class.
    pub class: Option<usize>,
    pub colormap: String,
    /// Overlay opacity in percent.
    pub opacity: u8,
    /// DFF concepts.
    pub k: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShareError {
    #[error("the share link is too long ({0} characters); it may have been altered")]
    TooLong(usize),
    #[error("the share link is damaged: {0}")]
    Damaged(String),
    #[error("the share link's photo cannot be read: {0}")]
    Photo(String),
}

/// The crop as JPEG, the form in which an uploaded photo is shared.
pub fn encode_jpeg(crop: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut bytes), JPEG_QUALITY);
    crop.write_with_encoder(encoder).expect("encoding to memory cannot fail");
    bytes
}

/// Decodes a shared JPEG crop.
pub fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, ShareError> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
        .map_err(|e| ShareError::Photo(e.to_string()))?;
    Ok(image.to_rgb8())
}

impl Shared {
    /// The URL fragment, without the leading `#`.
    pub fn to_fragment(&self) -> String {
        let photo = match &self.photo {
            Photo::Demo(name) => format!("demo:{name}"),
            Photo::Jpeg(bytes) => format!("jpeg:{}", URL_SAFE_NO_PAD.encode(bytes)),
        };
        let mut fragment = format!("v={VERSION}&method={}&layer={}", self.method, self.layer);
        if let Some(class) = self.class {
            write!(fragment, "&class={class}").expect("writing to a String");
        }
        write!(fragment, "&colormap={}&opacity={}&k={}&photo={photo}", self.colormap, self.opacity, self.k)
            .expect("writing to a String");
        fragment
    }

    /// Parses a fragment (with or without its `#`). Names are checked by the app, which knows
    /// the valid methods, layers and colormaps; numbers and the photo are checked here.
    pub fn from_fragment(fragment: &str) -> Result<Self, ShareError> {
        let fragment = fragment.trim_start_matches('#');
        if fragment.len() > MAX_FRAGMENT {
            return Err(ShareError::TooLong(fragment.len()));
        }
        let damaged = |what: &str| ShareError::Damaged(what.to_string());
        let field = |key: &str| {
            fragment
                .split('&')
                .find_map(|pair| pair.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
                .ok_or_else(|| damaged(&format!("'{key}' is missing")))
        };
        let number = |key: &str, max: usize| -> Result<usize, ShareError> {
            field(key)?.parse::<usize>().ok().filter(|n| *n <= max).ok_or_else(|| damaged(&format!("bad '{key}'")))
        };
        if field("v")? != VERSION {
            return Err(damaged("made by another version of xai-lens"));
        }
        let photo = match field("photo")?.split_once(':') {
            Some(("demo", name)) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                Photo::Demo(name.to_string())
            }
            Some(("jpeg", data)) => {
                let bytes = URL_SAFE_NO_PAD.decode(data).map_err(|_| damaged("the photo is not valid base64"))?;
                decode_jpeg(&bytes)?;
                Photo::Jpeg(bytes)
            }
            _ => return Err(damaged("unknown photo")),
        };
        Ok(Shared {
            photo,
            method: field("method")?.to_string(),
            layer: field("layer")?.to_string(),
            class: fragment.contains("&class=").then(|| number("class", 999)).transpose()?,
            colormap: field("colormap")?.to_string(),
            opacity: number("opacity", 100)? as u8,
            k: number("k", 16)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(photo: Photo) -> Shared {
        Shared {
            photo,
            method: "gradcam++".into(),
            layer: "layer3".into(),
            class: Some(281),
            colormap: "turbo".into(),
            opacity: 60,
            k: 5,
        }
    }

    #[test]
    fn round_trips_demo_and_jpeg_photos() {
        let demo = sample(Photo::Demo("chelsea".into()));
        assert_eq!(Shared::from_fragment(&demo.to_fragment()), Ok(demo.clone()));
        let crop = RgbImage::from_fn(224, 224, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let jpeg = sample(Photo::Jpeg(encode_jpeg(&crop)));
        let fragment = format!("#{}", jpeg.to_fragment());
        assert!(fragment.len() < 40_000, "{}", fragment.len());
        assert_eq!(Shared::from_fragment(&fragment), Ok(jpeg));
        let top = Shared { class: None, ..demo };
        assert_eq!(Shared::from_fragment(&top.to_fragment()).unwrap().class, None);
    }

    #[test]
    fn tampered_links_are_refused() {
        let good = sample(Photo::Demo("chelsea".into())).to_fragment();
        for (bad, expected) in [
            (good.replace("v=1", "v=9"), "another version"),
            (good.replace("opacity=60", "opacity=900"), "bad 'opacity'"),
            (good.replace("class=281", "class=x"), "bad 'class'"),
            (good.replace("demo:chelsea", "demo:../etc"), "unknown photo"),
            (good.replace("demo:chelsea", "jpeg:!!!"), "not valid base64"),
            (good.replace("demo:chelsea", "jpeg:AAAA"), "cannot be read"),
            ("x".repeat(MAX_FRAGMENT + 1), "too long"),
            (String::new(), "missing"),
        ] {
            let error = Shared::from_fragment(&bad).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad:.60}: {error}");
        }
    }
}
