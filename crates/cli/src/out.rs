//! Where commands write, checked as the command line is read: a mistake in a path should show
//! at once, not after the whole run it was to hold.

use std::path::{Path, PathBuf};

/// A file to write: not a folder; its folder is made now if missing (as --out-dir's is), and
/// the file opened for writing (without changing it, and removed again if the check made it),
/// so that one that cannot be written is said at once.
pub fn file(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        return Err(format!("{arg} is a folder: name a file in it"));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| format!("{arg}: cannot make the folder {}: {e}", folder.display()))?;
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("{arg}: {e}"))?;
    if !existed {
        let _ = std::fs::remove_file(&path);
    }
    Ok(path)
}

/// Where a path leads: the file itself when it is there (through links), else its name in its
/// folder's real place. Two paths that lead to the same place name one file.
fn place(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let folder = folder.canonicalize().unwrap_or_else(|_| folder.to_path_buf());
    folder.join(path.file_name().unwrap_or_default())
}

/// Refuses a run where one of `outputs` is one of `inputs` (by any name): writing it would
/// destroy a file the run reads (`what`: "an input") or writes.
pub fn refuse_clash<'a>(
    outputs: impl IntoIterator<Item = &'a Path>,
    inputs: impl IntoIterator<Item = &'a Path> + Clone,
    what: &str,
) -> anyhow::Result<()> {
    match clash(outputs, inputs) {
        Some((output, input)) => anyhow::bail!(
            "{}: would overwrite {}, {what} of this run: name another output",
            output.display(),
            input.display()
        ),
        None => Ok(()),
    }
}

/// The first of `outputs` that is one of `inputs` (by any name), with it.
fn clash<'a>(
    outputs: impl IntoIterator<Item = &'a Path>,
    inputs: impl IntoIterator<Item = &'a Path> + Clone,
) -> Option<(&'a Path, &'a Path)> {
    outputs.into_iter().find_map(|output| {
        let at = place(output);
        inputs.clone().into_iter().find(|input| place(input) == at).map(|input| (output, input))
    })
}

/// An image to write, which is a PNG: an overlay has an alpha channel, and JPEG would blur it.
pub fn png(arg: &str) -> Result<PathBuf, String> {
    let path = file(arg)?;
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(format!("{arg}: images are written as PNG, so name it .png"));
    }
    Ok(path)
}

/// A folder to write into, made if missing: not a file.
pub fn folder(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.exists() && !path.is_dir() {
        return Err(format!("{arg} is a file, not a folder"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_any_work() {
        let dir = std::env::temp_dir().join(format!("xai-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (name, file_path) = (dir.display().to_string(), dir.join("x.png"));
        std::fs::write(&file_path, b"").unwrap();
        let file_name = file_path.display().to_string();
        assert!(file(&name).unwrap_err().contains("is a folder"));
        assert_eq!(file(&format!("{name}/made/x.html")), Ok(dir.join("made/x.html")));
        assert!(dir.join("made").is_dir());
        assert!(file(&format!("{file_name}/x.html")).unwrap_err().contains("cannot make the folder"));
        assert_eq!(file("report.html"), Ok(PathBuf::from("report.html")));
        assert!(png(&format!("{name}/x.jpg")).unwrap_err().contains("name it .png"));
        assert!(png(&format!("{name}/x")).unwrap_err().contains("name it .png"));
        assert_eq!(png(&file_name), Ok(file_path.clone()));
        assert!(folder(&file_name).unwrap_err().contains("not a folder"));
        assert_eq!(folder(&name), Ok(dir.clone()));
        assert!(file("/proc/x.html").is_err(), "a file that cannot be made");
        assert!(!dir.join("made/x.html").exists(), "the check leaves nothing behind");
        // The same file by another name; a file not made yet, in the same folder by another name.
        let photo = dir.join("made/../x.png");
        assert_eq!(clash([photo.as_path()], [file_path.as_path()]), Some((photo.as_path(), file_path.as_path())));
        let (new, other) = (dir.join("made/./y.png"), dir.join("made/y.png"));
        assert!(clash([new.as_path()], [other.as_path()]).is_some());
        assert_eq!(clash([new.as_path()], [file_path.as_path()]), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
