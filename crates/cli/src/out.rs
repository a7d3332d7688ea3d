//! Where commands write, checked as the command line is read: a mistake in a path should show
//! at once, not after the whole run it was to hold.

use std::path::{Path, PathBuf};

/// A file to write: not a folder; its folder is made now if missing (as --out-dir's is), so
/// that one that cannot be made is said at once.
pub fn file(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        return Err(format!("{arg} is a folder: name a file in it"));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| format!("{arg}: cannot make the folder {}: {e}", folder.display()))?;
    Ok(path)
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
        std::fs::remove_dir_all(dir).unwrap();
    }
}
