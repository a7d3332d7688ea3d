//! Reading the files users name: regular files only (a pipe would block and a device never
//! ends), and never more than a ceiling for their kind, so memory stays bounded by what the
//! file is.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

/// What a file is for, and so the most it may hold.
#[derive(Debug, Clone, Copy)]
pub enum Ceiling {
    /// As in the page.
    Photo,
    /// Our weight files: wide_resnet101_2 at f32 is 500 MB.
    Weights,
    /// A model as saved by its authors.
    Model,
    /// A Keras model's `model.json` (ResNet-50's is 100 KB).
    Manifest,
    /// One of its weight shards (ResNet-50's are 4 MB): at most what all may hold together.
    Shard,
    Labels,
}

impl Ceiling {
    fn bytes(self) -> u64 {
        match self {
            Ceiling::Photo => xai_model::photo::MAX_FILE_BYTES,
            Ceiling::Weights => 2_000_000_000,
            Ceiling::Model => 4_000_000_000,
            Ceiling::Manifest => 16_000_000,
            Ceiling::Shard => xai_model::npm::MAX_MODEL_BYTES,
            Ceiling::Labels => xai_model::labels::MAX_FILE_BYTES,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ceiling::Photo => "a photo",
            Ceiling::Weights => "a weight file",
            Ceiling::Model => "a model file",
            Ceiling::Manifest => "a model's model.json",
            Ceiling::Shard => "a weight shard",
            Ceiling::Labels => "a class-names file",
        }
    }

    /// Reads at most the ceiling from `reader`, which says it holds `size` bytes: refused at
    /// once when that is too many, and past the ceiling when it was wrong (a file that grows).
    fn read_from(self, reader: impl Read, size: u64) -> Result<Vec<u8>> {
        let limit = self.bytes();
        let refused = || anyhow!("over {} MB, more than {} may hold", limit / 1_000_000, self.name());
        if size > limit {
            return Err(refused());
        }
        let mut bytes = Vec::with_capacity(size as usize);
        reader.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(refused());
        }
        Ok(bytes)
    }
}

/// The whole file at `path`, named in the error.
pub fn read_file(path: &Path, ceiling: Ceiling) -> Result<Vec<u8>> {
    let read = || -> Result<Vec<u8>> {
        let metadata = std::fs::metadata(path)?;
        if !metadata.is_file() {
            bail!("not a regular file (a directory, a device or a pipe)");
        }
        ceiling.read_from(std::fs::File::open(path)?, metadata.len())
    };
    read().with_context(|| crate::shown(path))
}
