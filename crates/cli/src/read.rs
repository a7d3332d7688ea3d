//! Reading the files users name: regular files only (a pipe would block and a device never
//! ends), and never more than a ceiling for their kind, so memory stays bounded by what the
//! file is.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// What a file is for, and so the most it may hold.
#[derive(Debug, Clone, Copy)]
pub enum Ceiling {
    /// As in the page.
    Photo,
    /// Our weight files: wide_resnet101_2 at f32 is 500 MB.
    Weights,
    /// A model as saved by its authors.
    Model,
    Labels,
}

impl Ceiling {
    fn bytes(self) -> u64 {
        match self {
            Ceiling::Photo => xai_model::photo::MAX_FILE_BYTES,
            Ceiling::Weights => 2_000_000_000,
            Ceiling::Model => 4_000_000_000,
            Ceiling::Labels => 16_000_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ceiling::Photo => "a photo",
            Ceiling::Weights => "a weight file",
            Ceiling::Model => "a model file",
            Ceiling::Labels => "a class-names file",
        }
    }

    /// Reads at most the ceiling from `reader`, failing past it.
    fn read_from(self, reader: impl Read, capacity: u64) -> Result<Vec<u8>> {
        let limit = self.bytes();
        let mut bytes = Vec::with_capacity(capacity.min(limit) as usize);
        reader.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            bail!("over {} MB, more than {} may hold", limit / 1_000_000, self.name());
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
    read().with_context(|| path.display().to_string())
}
