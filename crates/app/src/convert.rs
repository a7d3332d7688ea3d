//! A visitor's model file, made into a model of the page: the same conversion as `xai convert`
//! (at full precision, so the explanations are the model's own), or a file `xai convert`
//! already made, checked and taken as it is. Plain Rust, so it is tested natively.

use xai_model::convert::{self, Given, Kind, Overrides};
use xai_model::{NetworkParams, Precision};

use crate::state::StoredModel;

/// The largest model file the page converts: wide_resnet101_2 is 500 MB, and the conversion
/// holds about three copies of it in the tab's memory.
pub const MAX_MODEL_BYTES: f64 = 600e6;

/// The weight file to keep, how the page lists it, and notes on what of the file it leaves out.
pub fn convert_model(
    name: &str,
    bytes: &[u8],
    labels: Option<Vec<u8>>,
) -> Result<(Vec<u8>, StoredModel, Vec<String>), String> {
    if convert::sniff(bytes).map_err(|e| e.to_string())? == Kind::Converted {
        if labels.is_some() {
            return Err(
                "a converted file carries its class names: convert it again with --labels to change them".into()
            );
        }
        let (params, info) = NetworkParams::from_safetensors(bytes).map_err(|e| e.to_string())?;
        // It is named by the file it was converted from, so a link finds it either way.
        let stored = StoredModel {
            name: info.model.source,
            sha256: info.model.source_sha256,
            architecture: params.architecture.to_string(),
            classes: params.architecture.classes,
        };
        return Ok((bytes.to_vec(), stored, Vec::new()));
    }
    let overrides = Overrides { labels, ..Overrides::default() };
    let (imported, notes) =
        convert::import_torchvision(name, bytes, &Given::default(), &overrides).map_err(|e| e.to_string())?;
    let info = convert::model_info(&imported, &overrides).map_err(|e| e.to_string())?;
    let params = &imported.params;
    let stored = StoredModel {
        name: name.into(),
        sha256: imported.source_sha256.clone(),
        architecture: params.architecture.to_string(),
        classes: params.architecture.classes,
    };
    Ok((params.to_safetensors(Precision::F32, &info), stored, notes))
}

#[cfg(test)]
mod tests {
    use xai_model::architecture::Stem;

    use super::*;

    #[test]
    fn a_pth_and_its_conversion_are_the_same_model() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = std::fs::read(xai_fixtures::rebuild("resnet18", "resnet18.pth", &dir)).unwrap();
        let labels = std::fs::read(xai_fixtures::dir().join("labels.txt")).unwrap();
        let (weights, stored, notes) = convert_model("mine.pth", &pth, Some(labels.clone())).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!((stored.architecture.as_str(), stored.classes), ("resnet18", 7));
        assert_eq!(stored.sha256, convert::sha256_hex(&pth));
        let (_, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!((info.precision, info.model.labels.name(0)), (Precision::F32, Some("cat")));
        // The converted file, loaded in turn, is the same entry.
        let (again, same, _) = convert_model("renamed.safetensors", &weights, None).unwrap();
        assert_eq!((again, same), (weights.clone(), stored));
        assert!(convert_model("x.safetensors", &weights, Some(labels)).unwrap_err().contains("--labels"));
        let wrong = convert_model("mine.pth", &pth, Some(b"a\nb\n".to_vec())).unwrap_err();
        assert!(wrong.contains("2 class names for a head of 7 classes"), "{wrong}");
        assert!(convert_model("photo.png", b"\x89PNG\r\n\x1a\n", None).unwrap_err().contains("not a model file"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_cifar_model_keeps_its_stem_and_size() {
        let dir = std::env::temp_dir().join(format!("xai-app-convert-cifar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pth = std::fs::read(xai_fixtures::rebuild("resnet18-cifar", "resnet18-cifar.pth", &dir)).unwrap();
        let (weights, stored, notes) = convert_model("cifar.pth", &pth, None).unwrap();
        assert_eq!(stored.architecture, "resnet18 (3x3 stem of stride 1, no max pooling)");
        assert!(notes[0].starts_with("the stem read as the CIFAR recipe's"), "{notes:?}");
        let (params, info) = NetworkParams::from_safetensors(&weights).unwrap();
        assert_eq!((params.architecture.stem, info.model.input_size.get()), (Stem::CIFAR, 32));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
