//! A folder the visitor picks or drops, as its files with their paths inside it ('/' between
//! the parts, the folder's own name left out): what the audit's layout reads. Files are handles
//! until a batch reads them, so a folder of thousands costs nothing until then.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DataTransfer, File, FileList};

use crate::fetch::js_error;

/// A folder to audit: its name, its files by path, and what the report should say of the
/// reading (a subfolder the browser would not list).
#[derive(Default)]
pub struct Folder {
    pub name: String,
    /// `None` marks a folder deeper than class/photo, named (as `a/b/`) only so the report can
    /// say it was skipped, or a file the browser could not read.
    pub files: Vec<(String, Option<File>)>,
    pub notes: Vec<String>,
}

/// The files of a folder picked with `webkitdirectory`: each knows its path from the picked
/// folder's name down. The folder's name is empty for loose files.
pub fn picked(files: &FileList) -> Folder {
    let mut folder = String::new();
    let mut found = Vec::with_capacity(files.length() as usize);
    for file in (0..files.length()).filter_map(|i| files.get(i)) {
        let relative = Reflect::get(&file, &"webkitRelativePath".into()).ok().and_then(|p| p.as_string());
        let relative = xai_model::printable(&relative.filter(|p| !p.is_empty()).unwrap_or_else(|| file.name()));
        let (top, path) = relative.split_once('/').unwrap_or(("", relative.as_str()));
        if folder.is_empty() {
            folder = top.to_string();
        }
        found.push((path.to_string(), Some(file.clone())));
    }
    Folder { name: folder, files: found, notes: Vec::new() }
}

/// What was dropped: a folder (the first one, if several), or loose files.
pub enum Dropped {
    Folder(JsValue),
    Files(Folder),
}

/// Reads what a drop holds; it must run while the drop event is handled (the browser empties
/// the transfer after), and its folder is read later by [`folder_files`].
pub fn dropped(transfer: &DataTransfer) -> Dropped {
    let items = transfer.items();
    let directory = (0..items.length())
        .filter_map(|i| items.get(i))
        .filter_map(|item| call(&item, "webkitGetAsEntry", &[]).ok().filter(|e| !e.is_null()))
        .find(is_directory);
    match directory {
        Some(directory) => Dropped::Folder(directory),
        None => Dropped::Files(transfer.files().map(|files| picked(&files)).unwrap_or_default()),
    }
}

/// A dropped folder: its own files and its subfolders' (their folders are marked, not read).
/// A file the browser will not hand over has no `File`, a subfolder it will not list is noted:
/// the report says so, and the rest is audited, as `xai audit` does. Only a folder that cannot
/// be listed at all is an error.
pub async fn folder_files(directory: &JsValue) -> Result<Folder, String> {
    let mut folder = Folder { name: name(directory), ..Folder::default() };
    for entry in children(directory).await? {
        let name = name(&entry);
        if !is_directory(&entry) {
            folder.files.push((name, file(&entry).await.ok()));
            continue;
        }
        let inside = match children(&entry).await {
            Ok(inside) => inside,
            Err(error) => {
                folder.notes.push(format!("folder '{name}' cannot be read: {error}"));
                continue;
            }
        };
        for inner in inside {
            let path = format!("{name}/{}", self::name(&inner));
            match is_directory(&inner) {
                true => folder.files.push((path + "/", None)),
                false => folder.files.push((path, file(&inner).await.ok())),
            }
        }
    }
    Ok(folder)
}

fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let function: Function = Reflect::get(target, &method.into()).map_err(js_error)?.dyn_into().map_err(js_error)?;
    function.apply(target, &args.iter().collect::<Array>()).map_err(js_error)
}

fn is_directory(entry: &JsValue) -> bool {
    Reflect::get(entry, &"isDirectory".into()).is_ok_and(|v| v.is_truthy())
}

fn name(entry: &JsValue) -> String {
    xai_model::printable(&Reflect::get(entry, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default())
}

/// A callback-style call (`method(onSuccess, onError)`) as a future.
async fn callback(target: &JsValue, method: &str) -> Result<JsValue, String> {
    let mut failed = None;
    let promise =
        Promise::new(&mut |resolve, reject| failed = call(target, method, &[resolve.into(), reject.into()]).err());
    if let Some(error) = failed {
        return Err(error);
    }
    JsFuture::from(promise).await.map_err(js_error)
}

async fn file(entry: &JsValue) -> Result<File, String> {
    callback(entry, "file").await?.dyn_into().map_err(js_error)
}

/// A directory entry's children: `readEntries` gives them a few dozen at a time, then none.
async fn children(directory: &JsValue) -> Result<Vec<JsValue>, String> {
    let reader = call(directory, "createReader", &[])?;
    let mut all = Vec::new();
    loop {
        let batch: Array = callback(&reader, "readEntries").await?.dyn_into().map_err(js_error)?;
        if batch.length() == 0 {
            return Ok(all);
        }
        all.extend(batch.iter());
    }
}
