//! A folder's files as the audit's entries: the ImageFolder layout read from their paths, the
//! same for a folder on disk (the CLI) and one picked or dropped in the page.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use xai_files::photo::EXTENSIONS;
use xai_files::Labels;

use crate::{class_of_folder, FolderClass, Report};

/// A file to classify: its index among the paths given, its path in the report, and its true
/// class when its folder names one.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub index: usize,
    pub path: String,
    pub truth: Option<usize>,
}

/// Whether a file's name says it is a photo (a format decoded), as ImageFolder sifts a folder:
/// notes, `.DS_Store` and `Thumbs.db` are not.
fn is_photo(path: &str) -> bool {
    let extension = Path::new(path).extension().and_then(|e| e.to_str());
    extension.is_some_and(|extension| EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(extension)))
}

/// A hidden file or folder (a name starting with '.'): macOS's `._1.jpg` beside each `1.jpg` on a
/// drive it does not own, `.AppleDouble/`, `.thumbnails/`. Not photos, and not said to be.
fn is_hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.'))
}

/// The entries of a folder's files, given by their paths inside it ('/' between the parts),
/// sorted by path. A file at the top has no true class, a file in a subfolder named after a
/// class has that class (`imagenet_ids` as [`class_of_folder`] takes them), a file deeper down is skipped (noted by its folder, whatever its name),
/// and so is a file not named as a photo.
/// What does not fit the layout (a folder naming no class, a deeper folder, the same path twice,
/// files that are not photos) is noted in `report`, never fatal.
pub fn entries(paths: &[String], labels: &Labels, imagenet_ids: Option<&str>, report: &mut Report) -> Vec<Entry> {
    // Whatever lies deeper than class/photo (a folder's mark `a/b/`, or a file `a/b/c.txt` when
    // the browser lists them all) stays, for its folder's note below, photo or not.
    let shown = (0..paths.len()).filter(|&i| !is_hidden(&paths[i]));
    let (mut order, others): (Vec<usize>, Vec<usize>) =
        shown.partition(|&i| paths[i].matches('/').count() > 1 || is_photo(&paths[i]));
    if let Some(first) = others.iter().map(|&i| &paths[i]).min() {
        let formats = EXTENSIONS.map(|e| format!(".{e}")).join(", ");
        let files = crate::counted(others.len(), "file", "files");
        report.note(format!("{files} not named as photos ({formats}) left out, such as '{first}'"));
    }
    order.sort_by(|&a, &b| paths[a].cmp(&paths[b]));
    let mut classes: HashMap<&str, Option<usize>> = HashMap::new();
    let mut deeper = BTreeSet::new();
    let mut entries: Vec<Entry> = Vec::with_capacity(paths.len());
    for index in order {
        let path = paths[index].as_str();
        let truth = match path.split('/').collect::<Vec<_>>()[..] {
            [] | [_] => None,
            [folder, _] => {
                *classes.entry(folder).or_insert_with(|| match class_of_folder(folder, labels, imagenet_ids) {
                    FolderClass::Class(class) => Some(class),
                    FolderClass::None => {
                        report.note(format!(
                            "folder '{folder}' names no class of the model: its photos have no true class"
                        ));
                        None
                    }
                    FolderClass::Several(classes) => {
                        let classes = classes.iter().map(usize::to_string).collect::<Vec<_>>().join(" and ");
                        report.note(format!(
                        "folder '{folder}' names classes {classes} of the model alike: its photos have no true class"
                    ));
                        None
                    }
                })
            }
            [folder, inner, ..] => {
                deeper.insert(format!("{folder}/{inner}"));
                continue;
            }
        };
        if entries.last().is_some_and(|last| last.path == path) {
            report.note(format!("two files at '{path}': both classified"));
        }
        entries.push(Entry { index, path: path.to_string(), truth });
    }
    // One note for them all: a class folder of raw files a level down may hold hundreds.
    match (deeper.len(), deeper.first()) {
        (1, Some(folder)) => report.note(format!("folder '{folder}' is deeper than class/photo: skipped")),
        (count, Some(folder)) => {
            report.note(format!("{count} folders deeper than class/photo skipped, such as '{folder}'"))
        }
        _ => {}
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_imagefolder_layout_gives_classes_and_notes_what_does_not_fit() {
        let labels = Labels::from_json(br#"["Egyptian_cat", "tabby"]"#).unwrap();
        let paths =
            ["tabby/b.jpg", "loose.png", "Egyptian cat/a.jpg", "dogs/d.jpg", "tabby/x/y/z.jpg", "tabby/x/w.jpg"];
        // Hidden files (macOS's `._` twins on a foreign drive among them) are not even counted.
        let others = [
            "tabby/b.jpg",
            "notes.txt",
            ".DS_Store",
            "tabby/Thumbs.db",
            "tabby/.jpg",
            "README",
            "tabby/._b.jpg",
            ".AppleDouble/b.jpg",
            // Deeper than the layout: its folder's note says so, not the count of non-photos.
            "dogs/raw/d.cr2",
        ];
        let paths: Vec<String> = [&paths[..], &others].concat().iter().map(|p| p.to_string()).collect();
        let mut report = Report::default();
        let found: Vec<(usize, &str, Option<usize>)> = entries(&paths, &labels, None, &mut report)
            .iter()
            .map(|e| (e.index, paths[e.index].as_str(), e.truth))
            .collect();
        assert_eq!(
            found,
            [
                (2, "Egyptian cat/a.jpg", Some(0)),
                (3, "dogs/d.jpg", None),
                (1, "loose.png", None),
                (0, "tabby/b.jpg", Some(1)),
                (6, "tabby/b.jpg", Some(1)),
            ]
        );
        assert_eq!(
            report.notes,
            [
                "3 files not named as photos (.jpg, .jpeg, .png, .webp, .gif, .bmp) left out, such as 'README'",
                "folder 'dogs' names no class of the model: its photos have no true class",
                "two files at 'tabby/b.jpg': both classified",
                "2 folders deeper than class/photo skipped, such as 'dogs/raw'",
            ]
        );
    }
}
