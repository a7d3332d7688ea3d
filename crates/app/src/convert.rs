//! A visitor's model file, made into a model of the page: the same conversion as `xai convert`
//! (at full precision, so the explanations are the model's own), with what the visitor says of
//! the model in the conversion options, or a file `xai convert` already made, checked and taken
//! as it is. Plain Rust, so it is tested natively.

use xai_model::convert::{self, Given, Kind, Overrides};
use xai_model::{preprocessing, InputSize, NetworkParams, Precision};

use crate::state::StoredModel;

/// The largest model file the page converts: wide_resnet101_2 is 500 MB, and the conversion
/// holds about three copies of it in the tab's memory.
pub const MAX_MODEL_BYTES: f64 = 600e6;

/// The conversion options as the visitor left them: what the weights do not show of how the
/// model was trained, as `xai convert`'s --mean, --std, --stem-stride, --max-pool and
/// --input-size say it, and which copy of the network to convert (--ema). Each empty (`None`,
/// `false`) keeps what the file says, else the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub mean: String,
    pub std: String,
    pub stem_stride: Option<usize>,
    pub max_pool: Option<bool>,
    pub input_size: String,
    pub ema: bool,
}

/// The options, read and checked.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    given: Given<'static>,
    normalize: Option<([f32; 3], [f32; 3])>,
    input_size: Option<InputSize>,
}

impl Options {
    /// Checked before the file is read, so a typing slip costs no 500 MB read.
    pub fn read(&self) -> Result<Settings, String> {
        let given = Given { arch: None, stem_stride: self.stem_stride, max_pool: self.max_pool, ema: self.ema };
        let (mean, std) = (self.mean.trim(), self.std.trim());
        let normalize = match (mean.is_empty(), std.is_empty()) {
            (true, true) => None,
            (false, false) => Some((
                preprocessing::parse_mean(mean).map_err(|e| format!("the mean {e}"))?,
                preprocessing::parse_std(std).map_err(|e| format!("the std {e}"))?,
            )),
            (false, true) => return Err("a mean is given without its std: give both, or neither".into()),
            (true, false) => return Err("a std is given without its mean: give both, or neither".into()),
        };
        let input_size = match self.input_size.trim() {
            "" => None,
            size => Some(
                size.parse::<u32>()
                    .map_err(|_| format!("the input size '{size}' is not a whole number of pixels"))
                    .and_then(|size| InputSize::new(size).map_err(|e| e.to_string()))?,
            ),
        };
        Ok(Settings { given, normalize, input_size })
    }
}

impl Settings {
    fn is_default(&self) -> bool {
        *self == Settings::default()
    }
}

/// The weight file to keep, how the page lists it, and notes on what of the file it leaves out.
pub fn convert_model(
    name: &str,
    bytes: &[u8],
    labels: Option<Vec<u8>>,
    settings: Settings,
) -> Result<(Vec<u8>, StoredModel, Vec<String>), String> {
    if convert::sniff(bytes).map_err(|e| e.to_string())? == Kind::Converted {
        if labels.is_some() || !settings.is_default() {
            return Err(
                "a file made by xai convert carries its class names and preprocessing: give them with the model's own file instead".into()
            );
        }
        let (params, info) = NetworkParams::from_safetensors(bytes).map_err(|e| e.to_string())?;
        // It is named by the file it was converted from, so a link finds it either way.
        let stored = listed(info.model.source, info.model.source_sha256, &params, info.model.ema);
        return Ok((bytes.to_vec(), stored, Vec::new()));
    }
    let overrides = Overrides { labels, normalize: settings.normalize, input_size: settings.input_size };
    let (imported, notes) =
        convert::import_torchvision(name, bytes, &settings.given, &overrides).map_err(|e| e.to_string())?;
    let info = convert::model_info(&imported, &overrides).map_err(|e| e.to_string())?;
    let params = &imported.params;
    let stored = listed(name.into(), imported.source_sha256.clone(), params, imported.ema);
    Ok((params.to_safetensors(Precision::F32, &info), stored, notes))
}

/// How the page lists a model of `params` converted from the file `name` (its EMA copy where
/// `ema`, which the list says) of SHA-256 `sha256`.
fn listed(name: String, sha256: String, params: &NetworkParams, ema: bool) -> StoredModel {
    let copy = if ema { ", its EMA copy" } else { "" };
    let architecture = format!("{}{copy}", params.architecture);
    StoredModel { name, sha256, architecture, classes: params.architecture.classes }
}

#[cfg(test)]
mod tests {
    use xai_model::architecture::Stem;
    use xai_model::Preprocessing;

    use super::*;

    #[test]
    fn a_pth_and_its_conversion_are_the_same_model() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = std::fs::read(xai_fixtures::rebuild("resnet18", "resnet18.pth", &dir)).unwrap();
        let labels = std::fs::read(xai_fixtures::dir().join("labels.txt")).unwrap();
        let (weights, stored, notes) =
            convert_model("mine.pth", &pth, Some(labels.clone()), Settings::default()).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!((stored.architecture.as_str(), stored.classes), ("resnet18", 7));
        assert_eq!(stored.sha256, convert::sha256_hex(&pth));
        let (_, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!((info.precision, info.model.labels.name(0)), (Precision::F32, Some("cat")));
        // The converted file, loaded in turn, is the same entry.
        let (again, same, _) = convert_model("renamed.safetensors", &weights, None, Settings::default()).unwrap();
        assert_eq!((again, same), (weights.clone(), stored));
        let relabelled = convert_model("x.safetensors", &weights, Some(labels), Settings::default());
        assert!(relabelled.unwrap_err().contains("carries its class names and preprocessing"));
        let wrong = convert_model("mine.pth", &pth, Some(b"a\nb\n".to_vec()), Settings::default()).unwrap_err();
        assert!(wrong.contains("2 class names for a head of 7 classes"), "{wrong}");
        assert!(convert_model("photo.png", b"\x89PNG\r\n\x1a\n", None, Settings::default())
            .unwrap_err()
            .contains("not a model file"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fastai_learner_exported_whole_brings_its_head_and_class_names() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-fastai-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exported = xai_fixtures::rebuild("resnet18-fastai", "resnet18-fastai-export.pkl", &dir);
        let bytes = std::fs::read(exported).unwrap();
        let (weights, stored, notes) = convert_model("export.pkl", &bytes, None, Settings::default()).unwrap();
        assert!(notes.iter().any(|note| note.contains("fastai's `vision_learner` head")), "{notes:?}");
        assert_eq!((stored.classes, stored.architecture.starts_with("resnet18 (a head of max")), (7, true));
        let (params, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert!(!params.architecture.tail().linear_head);
        assert_eq!(info.model.labels.names()[..3], ["cat", "coffee", "rocket"]);
        // `learn.save`'s file keeps the weights alone: the visitor is told where the names are.
        let saved = std::fs::read(xai_fixtures::rebuild("resnet18-fastai", "resnet18-fastai.pth", &dir)).unwrap();
        let (_, _, notes) = convert_model("model.pth", &saved, None, Settings::default()).unwrap();
        assert!(notes.iter().any(|note| note.contains("give fastai's `learn.dls.vocab`")), "{notes:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_timm_model_from_the_hub_brings_its_class_names_and_normalisation_in_its_config() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-timm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hub = std::fs::read(xai_fixtures::rebuild("resnet26d-timm", "resnet26d-timm.safetensors", &dir)).unwrap();
        let config = std::fs::read(xai_fixtures::dir().join("resnet26d-timm-config.json")).unwrap();
        let (weights, stored, notes) =
            convert_model("model.safetensors", &hub, Some(config), Settings::default()).unwrap();
        assert!(
            stored.architecture.starts_with("resnet26 (deep stem of three 3x3 convolutions"),
            "{}",
            stored.architecture
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("normalisation read from 'its config.json's pretrained_cfg'"), "{notes:?}");
        let (_, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!(info.model.labels.names()[..3], ["cat", "coffee", "rocket"]);
        assert_eq!(info.model.preprocessing, Preprocessing::IMAGENET);
        // train.py's checkpoint: its EMA copy where the visitor asks for it, which the hub's
        // file does not have.
        let ema = Options { ema: true, ..Options::default() }.read().unwrap();
        let checkpoint =
            std::fs::read(xai_fixtures::rebuild("resnet26d-timm", "resnet26d-timm-checkpoint.pth.tar", &dir)).unwrap();
        let (weights, stored, notes) = convert_model("model_best.pth.tar", &checkpoint, None, ema).unwrap();
        assert!(stored.architecture.ends_with("average-pooled shortcuts), its EMA copy"), "{}", stored.architecture);
        assert!(
            notes
                .contains(&"converted the file's EMA copy of the network, 'state_dict_ema.', not 'state_dict.'".into()),
            "{notes:?}"
        );
        assert!(NetworkParams::from_safetensors(&weights).unwrap().1.model.ema);
        let refused = convert_model("model.safetensors", &hub, None, ema).unwrap_err();
        assert!(refused.starts_with("the file holds no EMA copy of the network"), "{refused}");
        assert!(refused.ends_with("only the one at the top level: convert that one"), "{refused}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_cifar_model_keeps_its_stem_and_size() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-cifar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = std::fs::read(xai_fixtures::rebuild("resnet18-cifar", "resnet18-cifar.pth", &dir)).unwrap();
        let (weights, stored, notes) = convert_model("cifar.pth", &pth, None, Settings::default()).unwrap();
        assert_eq!(stored.architecture, "resnet18 (3x3 stem of stride 1, no max pooling)");
        assert!(notes[0].starts_with("the stem read as the CIFAR recipe's"), "{notes:?}");
        let (params, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!((params.architecture.stem, info.model.input_size.get()), (Stem::CIFAR, 32));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_options_say_what_the_weights_do_not() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = std::fs::read(xai_fixtures::rebuild("resnet18-cifar", "resnet18-cifar.pth", &dir)).unwrap();
        let options = Options {
            mean: "0.4914, 0.4822,0.4465".into(),
            std: " 0.2470,0.2435,0.2616 ".into(),
            stem_stride: Some(2),
            max_pool: Some(true),
            input_size: "64".into(),
            ema: false,
        };
        let (weights, stored, notes) = convert_model("cifar.pth", &pth, None, options.read().unwrap()).unwrap();
        assert_eq!(stored.architecture, "resnet18 (3x3 stem of stride 2, then max pooling)");
        assert_eq!(notes, ["the stem as given: 3x3 stem of stride 2, then max pooling"]);
        let (params, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!((params.architecture.stem.stride, params.architecture.stem.max_pool), (2, true));
        let cifar10 = Preprocessing::Normalize { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] };
        assert_eq!((info.model.preprocessing, info.model.input_size.get()), (cifar10, 64));
        // A file xai convert made keeps what it was made with.
        let refused = convert_model("made.safetensors", &weights, None, options.read().unwrap()).unwrap_err();
        assert!(refused.contains("give them with the model's own file"), "{refused}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn options_mistyped_are_refused_before_the_file_is_read() {
        let refused = |options: Options| options.read().unwrap_err();
        let mean = |mean: &str, std: &str| Options { mean: mean.into(), std: std.into(), ..Options::default() };
        assert_eq!(refused(mean("0.5,0.5,0.5", "")), "a mean is given without its std: give both, or neither");
        assert_eq!(refused(mean("", "0.2,0.2,0.2")), "a std is given without its mean: give both, or neither");
        assert_eq!(
            refused(mean("0.5,0.5", "0.2,0.2,0.2")),
            "the mean '0.5,0.5' is not three numbers such as 0.5,0.5,0.5"
        );
        assert!(refused(mean("125,123,114", "0.2,0.2,0.2")).contains("divide values of 0 to 255 by 255"));
        assert!(
            refused(mean("0.5,0.5,0.5", "0,0.2,0.2")).starts_with("the std '0,0.2,0.2': each must be from 0.01 to 1")
        );
        let size = |size: &str| Options { input_size: size.into(), ..Options::default() };
        assert_eq!(refused(size("big")), "the input size 'big' is not a whole number of pixels");
        assert!(refused(size("50")).contains("a multiple of 32 from 32 to 1024"));
        assert_eq!(Options::default().read().unwrap(), Settings::default());
    }
}
