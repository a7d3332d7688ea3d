//! Loading the network and reading photos: what every command that runs the network shares.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xai_model::{preprocess, InputSize, Labels, ResNet};

use crate::backend::Backend;

/// Where `cargo xtask weights` writes the converted weights.
pub const DEFAULT_WEIGHTS: &str = "weights/resnet50-int8.safetensors";

/// Options shared by every command that runs the network.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// Weight file written by `xai convert`.
    #[arg(long, default_value = DEFAULT_WEIGHTS)]
    weights: PathBuf,
    /// Class names; defaults to labels.json beside the weights.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Side of the square network input: a multiple of 32 from 64 to 1024.
    #[arg(long, default_value_t = 224, value_parser = parse_input_size)]
    input_size: u32,
}

fn parse_input_size(s: &str) -> Result<u32, String> {
    let size = s.parse::<u32>().map_err(|e| e.to_string())?;
    InputSize::new(size).map(InputSize::get).map_err(|e| e.to_string())
}

/// A loaded network and what it needs to read its outputs.
pub struct Model {
    pub net: ResNet,
    pub labels: Labels,
    pub input_size: InputSize,
}

impl ModelArgs {
    pub fn load(&self) -> Result<Model> {
        let device = self.backend.device()?;
        let bytes = std::fs::read(&self.weights).with_context(|| {
            format!("{}: cannot read the weights (run `cargo xtask weights` to make them)", self.weights.display())
        })?;
        let (net, _) = ResNet::from_safetensors(&bytes, &device)
            .with_context(|| format!("{}: bad weight file", self.weights.display()))?;
        let labels_path = self.labels.clone().unwrap_or_else(|| self.weights.with_file_name("labels.json"));
        let labels = std::fs::read(&labels_path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(Labels::from_json(&b)?))
            .with_context(|| format!("{}: cannot read the class names", labels_path.display()))?;
        Ok(Model { net, labels, input_size: InputSize::new(self.input_size)? })
    }
}

impl Model {
    /// Reads, decodes and crops one image file into the network's input.
    pub fn read_image(&self, path: &Path) -> Result<image::RgbImage> {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let image = preprocess::decode_image(&bytes).with_context(|| path.display().to_string())?;
        Ok(preprocess::center_crop(&image, self.input_size))
    }

    /// The 1000 logits of one cropped image.
    pub fn logits(&self, crop: &image::RgbImage) -> Result<Vec<f32>> {
        let input = preprocess::input_tensor(std::slice::from_ref(crop), self.net.device());
        let data = self.net.forward(input).into_data();
        data.try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("reading logits: {e:?}"))
    }
}
