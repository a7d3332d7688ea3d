//! Share links: the app's settings and its photo in the URL fragment, which browsers never send
//! to a server. A demo photo travels as its name; an uploaded one as the JPEG of its centre crop
//! (the app explains that same JPEG, so the link reproduces exactly what was seen).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Cursor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use image::RgbImage;
use xai_files::preprocessing::{parse_mean, parse_std};
use xai_files::{InputSize, Preprocessing};

/// Links longer than this are refused before any decoding (a 224x224 JPEG needs about 25 KB).
pub const MAX_FRAGMENT: usize = 200_000;
const VERSION: &str = "1";
/// Every key a link may hold.
const KEYS: [&str; 14] = [
    "v",
    "method",
    "layer",
    "class",
    "versus",
    "probability",
    "colormap",
    "opacity",
    "k",
    "photo",
    "model",
    "model_name",
    "model_setup",
    "compare",
];
/// The largest class index a link may name (a model has at most 1,000,000 classes: the
/// class-name files read stop there); the app checks it against the model's head.
const MAX_CLASS: usize = 999_999;
/// JPEG quality of shared crops: small links, differences far below what a heatmap shows.
const JPEG_QUALITY: u8 = 90;

#[derive(Debug, Clone, PartialEq)]
pub enum Photo {
    /// A bundled demo photo, by name.
    Demo(String),
    /// JPEG bytes of the cropped photo.
    Jpeg(Vec<u8>),
}

/// A visitor's own model, named in a link by its file and that file's SHA-256: the weights
/// themselves never travel.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRef {
    pub name: String,
    /// Lowercase hex.
    pub sha256: String,
    /// How the file was converted; `None` in links made before links said it.
    pub setup: Option<Setup>,
}

/// What a model's answers depend on beside its file, which converting the same file otherwise
/// (the conversion options, `xai convert`'s flags) changes: its preprocessing, its stem's stride
/// and pooling, the size of its photos, which copy of the network in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    pub preprocessing: Preprocessing,
    pub stem_stride: usize,
    pub max_pool: bool,
    pub input_size: InputSize,
    /// The checkpoint's EMA copy of the network, not the one trained.
    pub ema: bool,
}

impl Setup {
    /// As a link holds it: the mean and std (or `caffe`), the stride, the pooling (1 or 0) and
    /// the size, by commas, then `ema` for an EMA copy (links made before had no such choice).
    /// f32's shortest text reads back as the same number.
    fn to_field(self) -> String {
        let preprocessing = match self.preprocessing {
            Preprocessing::Caffe => "caffe".to_string(),
            Preprocessing::Normalize { mean, std } => {
                mean.iter().chain(&std).map(f32::to_string).collect::<Vec<_>>().join(",")
            }
        };
        let (stride, pool, size) = (self.stem_stride, u8::from(self.max_pool), self.input_size.get());
        let ema = if self.ema { ",ema" } else { "" };
        format!("{preprocessing},{stride},{pool},{size}{ema}")
    }

    fn from_field(field: &str) -> Option<Setup> {
        let (field, ema) = field.strip_suffix(",ema").map_or((field, false), |field| (field, true));
        let values: Vec<&str> = field.split(',').collect();
        let (preprocessing, rest) = match values.as_slice() {
            ["caffe", rest @ ..] => (Preprocessing::Caffe, rest),
            [statistics @ .., _, _, _] if statistics.len() == 6 => {
                // Checked as the conversion options check them: no conversion makes others.
                let mean = parse_mean(&statistics[..3].join(",")).ok()?;
                let std = parse_std(&statistics[3..].join(",")).ok()?;
                (Preprocessing::Normalize { mean, std }, &values[6..])
            }
            _ => return None,
        };
        let (stem_stride, max_pool, input_size) = match rest {
            [stride @ ("1" | "2"), pool @ ("0" | "1"), size] => {
                (stride.parse().ok()?, *pool == "1", InputSize::new(size.parse().ok()?).ok()?)
            }
            _ => return None,
        };
        Some(Setup { preprocessing, stem_stride, max_pool, input_size, ema })
    }
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let three = |v: [f32; 3]| v.map(|x| x.to_string()).join(", ");
        match self.preprocessing {
            Preprocessing::Caffe => write!(f, "Keras' caffe preprocessing")?,
            Preprocessing::Normalize { mean, std } => write!(f, "mean {} and std {}", three(mean), three(std))?,
        }
        let pool = if self.max_pool { "max pooling" } else { "no max pooling" };
        let size = self.input_size.get();
        write!(f, ", stem stride {} with {pool}, {size} x {size} photos", self.stem_stride)?;
        if self.ema {
            write!(f, ", its EMA copy")?;
        }
        Ok(())
    }
}

/// Everything needed to reproduce a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// `None` is the built-in ImageNet model.
    pub model: Option<ModelRef>,
    pub photo: Photo,
    pub method: String,
    pub layer: String,
    /// The explained class; `None` is the top-1 class.
    pub class: Option<usize>,
    /// Explain the class against this one (the difference of their logits).
    pub versus: Option<usize>,
    /// Explain the class's probability instead of its logit.
    pub probability: bool,
    pub colormap: String,
    /// Overlay opacity in percent.
    pub opacity: u8,
    /// DFF concepts.
    pub k: usize,
    /// Open the comparison of every method too.
    pub compare: bool,
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

/// The side of the crops the page shares.
pub const CROP_SIDE: u32 = 224;

/// Decodes a shared JPEG crop, which must be the size the page writes: its header is read
/// first, so a link cannot make the page decode a large image.
pub fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, ShareError> {
    let photo = |e: image::ImageError| ShareError::Photo(e.to_string());
    let reader = || image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Jpeg);
    let (width, height) = reader().into_dimensions().map_err(photo)?;
    if (width, height) != (CROP_SIDE, CROP_SIDE) {
        return Err(ShareError::Photo(format!(
            "it is {width}x{height}, not the {CROP_SIDE}x{CROP_SIDE} crop the page shares"
        )));
    }
    // A link cut short (mail and chat clients cut long ones) cuts the JPEG's end off.
    if !xai_files::photo::jpeg_is_whole(bytes) {
        return Err(ShareError::Photo("its end is missing: the link was cut short".into()));
    }
    Ok(reader().decode().map_err(photo)?.to_rgb8())
}

impl Shared {
    /// The URL fragment, without the leading `#`.
    pub fn to_fragment(&self) -> String {
        let photo = match &self.photo {
            Photo::Demo(name) => format!("demo:{name}"),
            Photo::Jpeg(bytes) => format!("jpeg:{}", URL_SAFE_NO_PAD.encode(bytes)),
        };
        let mut fragment = format!("v={VERSION}&method={}&layer={}", self.method, self.layer);
        if let Some(model) = &self.model {
            let name = URL_SAFE_NO_PAD.encode(&model.name);
            write!(fragment, "&model={}&model_name={name}", model.sha256).expect("writing to a String");
            if let Some(setup) = model.setup {
                write!(fragment, "&model_setup={}", setup.to_field()).expect("writing to a String");
            }
        }
        if let Some(class) = self.class {
            write!(fragment, "&class={class}").expect("writing to a String");
        }
        if let Some(versus) = self.versus {
            write!(fragment, "&versus={versus}").expect("writing to a String");
        }
        if self.probability {
            fragment.push_str("&probability=1");
        }
        if self.compare {
            fragment.push_str("&compare=1");
        }
        write!(fragment, "&colormap={}&opacity={}&k={}&photo={photo}", self.colormap, self.opacity, self.k)
            .expect("writing to a String");
        fragment
    }

    /// Parses a fragment (with or without its `#`). Names are checked by the app, which knows
    /// the valid methods, layers and colormaps; numbers, the model and the photo are checked
    /// here. A key given twice, or one this version does not know, makes the link damaged.
    pub fn from_fragment(fragment: &str) -> Result<Self, ShareError> {
        let fragment = fragment.trim_start_matches('#');
        if fragment.len() > MAX_FRAGMENT {
            return Err(ShareError::TooLong(fragment.len()));
        }
        let damaged = |what: &str| ShareError::Damaged(what.to_string());
        let mut fields = HashMap::new();
        for pair in fragment.split('&') {
            let (key, value) = pair.split_once('=').ok_or_else(|| damaged("a setting without '='"))?;
            if !KEYS.contains(&key) {
                return Err(damaged(&format!("unknown setting '{key:.20}'")));
            }
            if fields.insert(key, value).is_some() {
                return Err(damaged(&format!("'{key}' is given twice")));
            }
        }
        let field = |key: &str| fields.get(key).copied().ok_or_else(|| damaged(&format!("'{key}' is missing")));
        // Digits only: no sign, no spaces, at most `max`.
        let number = |key: &str, max: usize| -> Result<usize, ShareError> {
            let text = field(key)?;
            text.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| text.parse::<usize>().ok())
                .flatten()
                .filter(|n| *n <= max)
                .ok_or_else(|| damaged(&format!("bad '{key}'")))
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
        let model = match (fields.get("model"), fields.get("model_name")) {
            (None, None) => None,
            (Some(sha256), Some(name)) => {
                let name = URL_SAFE_NO_PAD
                    .decode(name)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .filter(|name| !name.is_empty() && name.len() <= 255 && !name.chars().any(char::is_control))
                    .ok_or_else(|| damaged("bad 'model_name'"))?;
                if sha256.len() != 64 || !sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(damaged("bad 'model'"));
                }
                let setup = match fields.get("model_setup") {
                    None => None,
                    Some(field) => Some(Setup::from_field(field).ok_or_else(|| damaged("bad 'model_setup'"))?),
                };
                Some(ModelRef { name, sha256: sha256.to_string(), setup })
            }
            _ => return Err(damaged("'model' and 'model_name' go together")),
        };
        if model.is_none() && fields.contains_key("model_setup") {
            return Err(damaged("'model_setup' without 'model'"));
        }
        let optional = |key: &str, max: usize| fields.contains_key(key).then(|| number(key, max)).transpose();
        // A flag is present as "1" or absent.
        let flag = |key: &str| match fields.get(key) {
            None => Ok(false),
            Some(&"1") => Ok(true),
            Some(_) => Err(damaged(&format!("bad '{key}'"))),
        };
        let (versus, probability) = (optional("versus", MAX_CLASS)?, flag("probability")?);
        if versus.is_some() && probability {
            return Err(damaged("'versus' and 'probability' do not go together"));
        }
        Ok(Shared {
            model,
            photo,
            method: field("method")?.to_string(),
            layer: field("layer")?.to_string(),
            class: optional("class", MAX_CLASS)?,
            versus,
            probability,
            colormap: field("colormap")?.to_string(),
            opacity: number("opacity", 100)? as u8,
            k: number("k", 16)?,
            compare: flag("compare")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(photo: Photo) -> Shared {
        Shared {
            model: None,
            photo,
            method: "gradcam++".into(),
            layer: "layer3".into(),
            class: Some(281),
            versus: None,
            probability: false,
            colormap: "turbo".into(),
            opacity: 60,
            k: 5,
            compare: false,
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
        let top = Shared { class: None, ..demo.clone() };
        assert_eq!(Shared::from_fragment(&top.to_fragment()).unwrap().class, None);
        let model = ModelRef { name: "dermatology résnet & co.pth".into(), sha256: "ab".repeat(32), setup: None };
        let own = Shared { model: Some(model.clone()), ..demo.clone() };
        assert_eq!(Shared::from_fragment(&own.to_fragment()), Ok(own));
        // How it was converted, to the last bit of each statistic.
        for setup in
            [cifar10(), Setup { preprocessing: Preprocessing::Caffe, ..cifar10() }, Setup { ema: true, ..cifar10() }]
        {
            let own = Shared { model: Some(ModelRef { setup: Some(setup), ..model.clone() }), ..demo.clone() };
            assert_eq!(Shared::from_fragment(&own.to_fragment()), Ok(own));
        }
        // A head of ImageNet-21k's size, or larger: its classes are linked too.
        let large = Shared { class: Some(999_999), versus: Some(21_842), ..demo.clone() };
        assert_eq!(Shared::from_fragment(&large.to_fragment()), Ok(large));
        let contrast = Shared { versus: Some(285), compare: true, ..demo.clone() };
        assert_eq!(Shared::from_fragment(&contrast.to_fragment()), Ok(contrast));
        let probability = Shared { probability: true, ..demo };
        assert_eq!(Shared::from_fragment(&probability.to_fragment()), Ok(probability));
    }

    fn cifar10() -> Setup {
        Setup {
            preprocessing: Preprocessing::Normalize { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] },
            stem_stride: 1,
            max_pool: false,
            input_size: InputSize::new(64).unwrap(),
            ema: false,
        }
    }

    #[test]
    fn a_setup_reads_as_the_conversion_options_say_it() {
        let setup = cifar10();
        assert_eq!(setup.to_field(), "0.4914,0.4822,0.4465,0.247,0.2435,0.2616,1,0,64");
        assert_eq!(
            setup.to_string(),
            "mean 0.4914, 0.4822, 0.4465 and std 0.247, 0.2435, 0.2616, stem stride 1 with no max pooling, 64 x 64 photos"
        );
        let ema = Setup { ema: true, ..setup };
        assert_eq!(ema.to_field(), "0.4914,0.4822,0.4465,0.247,0.2435,0.2616,1,0,64,ema");
        assert!(ema.to_string().ends_with("64 x 64 photos, its EMA copy"), "{ema}");
    }

    #[test]
    fn a_link_cut_short_is_refused() {
        let crop = RgbImage::from_fn(224, 224, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let fragment = sample(Photo::Jpeg(encode_jpeg(&crop))).to_fragment();
        assert!(fragment.ends_with(|c: char| c.is_ascii_alphanumeric()), "the photo comes last");
        let errors: Vec<String> = (1..40)
            .map(|cut| Shared::from_fragment(&fragment[..fragment.len() - cut]).unwrap_err().to_string())
            .collect();
        assert!(errors.iter().all(|e| e.contains("cut short") || e.contains("base64")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("cut short")), "{errors:?}");
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
            (
                good.replace(
                    "demo:chelsea",
                    &format!("jpeg:{}", URL_SAFE_NO_PAD.encode(encode_jpeg(&RgbImage::new(64, 8)))),
                ),
                "64x8",
            ),
            ("x".repeat(MAX_FRAGMENT + 1), "too long"),
            (format!("{good}&opacity=10"), "'opacity' is given twice"),
            (good.replace("opacity=60", "opacity=+60"), "bad 'opacity'"),
            (good.replace("k=5", "k=-5"), "bad 'k'"),
            (format!("{good}&evil=1"), "unknown setting 'evil'"),
            (format!("{good}&model={}", "a".repeat(64)), "go together"),
            (format!("{good}&model=xyz&model_name=bmFtZQ"), "bad 'model'"),
            (format!("{good}&model={}&model_name=!", "a".repeat(64)), "bad 'model_name'"),
            (String::new(), "without '='"),
            (format!("{good}&probability=0"), "bad 'probability'"),
            (format!("{good}&compare=2"), "bad 'compare'"),
            (format!("{good}&versus=285&probability=1"), "do not go together"),
            (format!("{good}&versus=1000000"), "bad 'versus'"),
            (format!("{good}&model_setup=caffe,2,1,224"), "'model_setup' without 'model'"),
        ] {
            let error = Shared::from_fragment(&bad).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad:.60}: {error}");
        }
        // A setup no conversion makes: statistics of pixels in [0, 255], a std of 0, a stride of
        // 3, a size not a multiple of 32, a field short or long.
        let own = format!("{good}&model={}&model_name=bmFtZQ", "a".repeat(64));
        for setup in [
            "128,128,128,0.2,0.2,0.2,2,1,224",
            "0.5,0.5,0.5,0,0.2,0.2,2,1,224",
            "0.5,0.5,0.5,0.2,0.2,NaN,2,1,224",
            "caffe,3,1,224",
            "caffe,2,2,224",
            "caffe,2,1,100",
            "caffe,2,1",
            "0.5,0.5,0.5,0.2,0.2,0.2,0.2,2,1,224",
            "caffe,2,1,224,ema,ema",
            "caffe,2,1,224,EMA",
            "ema",
            "",
        ] {
            let error = Shared::from_fragment(&format!("{own}&model_setup={setup}")).unwrap_err().to_string();
            assert!(error.contains("bad 'model_setup'"), "{setup}: {error}");
        }
    }
}
