//! Where commands write, checked as the command line is read: a mistake in a path should show
//! at once, not after the whole run it was to hold.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders the checks made, each after its parent: what [`remove_made_folders`] takes back.
static MADE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Makes a folder and those above it that are missing, remembering which were made.
pub fn make_folder(folder: &Path) -> std::io::Result<()> {
    let missing: Vec<PathBuf> =
        folder.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).map(Path::to_path_buf).collect();
    let made = std::fs::create_dir_all(folder);
    MADE.lock().unwrap_or_else(|e| e.into_inner()).extend(missing.into_iter().rev());
    made
}

/// Removes the folders this run made that hold nothing: a command line refused after its
/// output was checked, or a run that wrote nothing, leaves no trace.
pub fn remove_made_folders() {
    for folder in MADE.lock().unwrap_or_else(|e| e.into_inner()).drain(..).rev() {
        let _ = std::fs::remove_dir(folder);
    }
}

/// A file to write: not a folder, and [`writable`].
pub fn file(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        return Err(format!("{arg} is a folder: name a file in it"));
    }
    writable(&path)?;
    Ok(path)
}

/// Whether a file can be written, said before the work: its folder is made now if missing (as
/// --out-dir's is), and the file opened for writing (without changing it, and removed again if
/// the check made it).
pub fn writable(path: &Path) -> Result<(), String> {
    let shown = crate::shown(path);
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    make_folder(folder).map_err(|e| format!("{shown}: cannot make the folder {}: {e}", crate::shown(folder)))?;
    // A link counts as there, even one to nothing: it is not removed below.
    let existed = path.symlink_metadata().is_ok();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    // A named pipe that nothing reads would block the open (and the run) for ever.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path).map_err(|e| match e.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ENXIO) => format!("{shown}: a named pipe that nothing reads"),
        _ => format!("{shown}: {e}"),
    })?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Whether two paths name one file: the same file on disk (hard links too) when both are
/// there, else the same [`place`].
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(a), Ok(b)) = (a.metadata(), b.metadata()) {
        use std::os::unix::fs::MetadataExt;
        return (a.dev(), a.ino()) == (b.dev(), b.ino());
    }
    place(a) == place(b)
}

/// Where a path leads: the file itself when it is there (through links), else its name in its
/// folder's real place.
fn place(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let folder = folder.canonicalize().unwrap_or_else(|_| folder.to_path_buf());
    folder.join(path.file_name().unwrap_or_default())
}

/// Refuses a run where one of `outputs` is one of `inputs` (by any name), or in one that is a
/// folder (a Keras model's): writing it would destroy a file the run reads (`what`: "an
/// input") or writes.
pub fn refuse_clash<'a>(
    outputs: impl IntoIterator<Item = &'a Path>,
    inputs: impl IntoIterator<Item = &'a Path> + Clone,
    what: &str,
) -> anyhow::Result<()> {
    match clash(outputs, inputs) {
        Some((output, input)) => anyhow::bail!(
            "{}: would overwrite {}, {what} of this run: name another output",
            crate::shown(output),
            crate::shown(input)
        ),
        None => Ok(()),
    }
}

/// The first of `outputs` that is one of `inputs` (by any name), with it.
fn clash<'a>(
    outputs: impl IntoIterator<Item = &'a Path>,
    inputs: impl IntoIterator<Item = &'a Path> + Clone,
) -> Option<(&'a Path, &'a Path)> {
    let clashes = |output: &Path, input: &Path| {
        same_file(output, input) || (input.is_dir() && place(output).starts_with(place(input)))
    };
    outputs
        .into_iter()
        .find_map(|output| inputs.clone().into_iter().find(|input| clashes(output, input)).map(|input| (output, input)))
}

/// An image to write, which is a PNG: an overlay has an alpha channel, and JPEG would blur it.
pub fn png(arg: &str) -> Result<PathBuf, String> {
    let path = file(arg)?;
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(format!("{arg}: images are written as PNG, so name it .png"));
    }
    Ok(path)
}

/// A report to write, which is HTML: named otherwise (`report.png`), the next audit of its
/// folder would take it for a photo.
pub fn html(arg: &str) -> Result<PathBuf, String> {
    let path = file(arg)?;
    if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm")) {
        return Err(format!("{arg}: the report is written as HTML, so name it .html"));
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
        #[cfg(unix)]
        {
            // A link to nothing stays a link; a hard link is the same file.
            let dangling = dir.join("made/link.png");
            std::os::unix::fs::symlink(dir.join("nowhere.png"), &dangling).unwrap();
            assert!(png(dangling.to_str().unwrap()).is_ok());
            assert!(dangling.symlink_metadata().is_ok(), "the link is kept");
            let hard = dir.join("made/hard.png");
            std::fs::hard_link(&file_path, &hard).unwrap();
            assert!(clash([hard.as_path()], [file_path.as_path()]).is_some());
            // In a folder the run reads.
            let inside = dir.join("made/./model.json");
            assert!(clash([inside.as_path()], [dir.join("made").as_path()]).is_some());
        }
        // The same file by another name; a file not made yet, in the same folder by another name.
        let photo = dir.join("made/../x.png");
        assert_eq!(clash([photo.as_path()], [file_path.as_path()]), Some((photo.as_path(), file_path.as_path())));
        let (new, other) = (dir.join("made/./y.png"), dir.join("made/y.png"));
        assert!(clash([new.as_path()], [other.as_path()]).is_some());
        assert_eq!(clash([new.as_path()], [file_path.as_path()]), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
