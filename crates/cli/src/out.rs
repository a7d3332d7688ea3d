//! Where commands write, checked as the command line is read: a mistake in a path should show
//! at once, not after the whole run it was to hold.

use std::path::{Path, PathBuf};

/// A file to write: not a folder, in a folder that exists.
pub fn file(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        return Err(format!("{arg} is a folder: name a file in it"));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(format!("{arg}: there is no folder {}", folder.display()));
    }
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
        assert!(file(&format!("{name}/missing/x.html")).unwrap_err().contains("there is no folder"));
        assert_eq!(file("report.html"), Ok(PathBuf::from("report.html")));
        assert!(png(&format!("{name}/x.jpg")).unwrap_err().contains("name it .png"));
        assert!(png(&format!("{name}/x")).unwrap_err().contains("name it .png"));
        assert_eq!(png(&file_name), Ok(file_path.clone()));
        assert!(folder(&file_name).unwrap_err().contains("not a folder"));
        assert_eq!(folder(&name), Ok(dir.clone()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
