//! Loading the network and reading photos: what every command that runs the network shares.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xai_model::convert::{self, Kind};
use xai_model::{photo, InputSize, Labels, ResNet, WeightsInfo};

use crate::backend::Backend;
use crate::read::{read_file, Ceiling};

/// Where `cargo xtask weights` writes the built-in weights, in the repository.
const BUILT_IN_WEIGHTS: &str = "weights/resnet50-int8.safetensors";

/// Options shared by every command that runs the network.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// Weight file written by `xai convert` (your own model, or the built-in Keras ResNet-50);
    /// default: the built-in one, `weights/resnet50-int8.safetensors` in the current folder or
    /// in the repository `xai` was built from.
    #[arg(long)]
    weights: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Side of the square network input, a multiple of 32 from 32 to 1024; default: the model's
    /// own (224 unless converted with another).
    #[arg(long, value_parser = parse_input_size)]
    input_size: Option<u32>,
}

pub fn parse_input_size(s: &str) -> Result<u32, String> {
    let size = s.parse::<u32>().map_err(|e| e.to_string())?;
    InputSize::new(size).map(InputSize::get).map_err(|e| e.to_string())
}

/// A loaded network and what it needs to read its outputs.
pub struct Model {
    pub net: ResNet,
    /// Its class names, from the weight file.
    pub labels: Labels,
    pub input_size: InputSize,
    /// Where the weights came from and what they were converted to, for evidence.
    pub info: WeightsInfo,
}

impl ModelArgs {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The weight file a run reads, if there is one: given, or the built-in one.
    pub fn weights_file(&self) -> Option<PathBuf> {
        self.weights.clone().or_else(|| in_repository(BUILT_IN_WEIGHTS))
    }

    pub fn load(&self) -> Result<Model> {
        let device = self.backend.device()?;
        // The built-in weights are made once, by the project's own command.
        let Some(weights) = self.weights_file() else {
            bail!(
                "no weights: the built-in ones are made by `cargo xtask weights` in {} (or give --weights FILE)",
                repository().display()
            )
        };
        let path = weights.display();
        let bytes = read_file(&weights, Ceiling::Weights).context(if self.weights.is_some() {
            "--weights"
        } else {
            "the built-in weights"
        })?;
        // (A safetensors state dict is told apart by its metadata, below.)
        if let Ok(Kind::Pytorch | Kind::KerasTarball) = convert::sniff(&bytes) {
            bail!("{path}: a model file not converted yet: run `xai convert {path} -o model.safetensors` first");
        }
        let (net, info) =
            ResNet::from_safetensors(&bytes, &device).with_context(|| format!("{path}: bad weight file"))?;
        let input_size = match self.input_size {
            Some(size) => InputSize::new(size)?,
            None => info.model.input_size,
        };
        Ok(Model { net, labels: info.model.labels.clone(), input_size, info })
    }
}

/// The repository this binary was built from.
fn repository() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    path.canonicalize().unwrap_or(path)
}

/// A file of the repository's (`relative` to its root): the current folder's (run from the
/// repository, or a copy of it), else the repository's this binary was built from, so that `xai`
/// runs from the folder of the photos.
pub fn in_repository(relative: &str) -> Option<PathBuf> {
    [PathBuf::from(relative), repository().join(relative)].into_iter().find(|place| place.is_file())
}

impl Model {
    /// Reads, decodes and crops one image file into the network's input.
    pub fn read_image(&self, path: &Path) -> Result<image::RgbImage> {
        Ok(photo::center_crop(&self.read_photo(path)?, self.input_size))
    }

    /// Reads and decodes one image file at its own resolution.
    pub fn read_photo(&self, path: &Path) -> Result<image::RgbImage> {
        let bytes = read_file(path, Ceiling::Photo)?;
        photo::decode_image(&bytes).with_context(|| crate::shown(path))
    }

    /// The logits of one cropped image, one per class.
    pub fn logits(&self, crop: &image::RgbImage) -> Result<Vec<f32>> {
        let data = self.net.forward(self.net.input(std::slice::from_ref(crop))).into_data();
        data.try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("reading logits: {e:?}"))
    }
}

/// What was read, for one photo of many: an error is a line on stderr naming the file, and
/// `failed` is set, so that the others go on and the exit says one failed.
pub fn or_say<T>(read: Result<T>, failed: &mut bool) -> Option<T> {
    if let Err(error) = &read {
        eprintln!("xai: {}", crate::one_line(error));
        *failed = true;
    }
    read.ok()
}
