//! `xai audit`: a folder of photos classified in batches, and what it says about the model:
//! accuracy, the most confused classes, the most confident mistakes and the least confident
//! right answers, as a self-contained HTML report (with Grad-CAM overlays of the photos it lists)
//! and, with `--json`, one JSON object per photo. Ctrl-C stops it with the report of what was
//! done by then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pollster::block_on;
use xai_audit::folder::{entries, Entry};
use xai_audit::html::{png_data_url, Pictures};
use xai_audit::{compute, counted, stopped_note, Photo, Report};

use crate::backend::Backend;
use crate::model::{Model, ModelArgs};
use crate::printable;
use crate::progress::Progress;

#[derive(clap::Args)]
/// Audit a folder of photos. Photos in subfolders named after classes (DIR/tabby/1.jpg, the
/// ImageFolder layout; ImageNet's DIR/n02123045/1.jpg too) are checked against that class: accuracy, confusions, mistakes; the
/// photos of each predicted class are factorised together into the concepts they share.
/// Ctrl-C stops it with the report of what was done by then.
pub struct Args {
    /// The folder: its photos, and those of its subfolders one level down (a class each).
    dir: PathBuf,
    /// The report: one self-contained HTML file, overlays inline.
    #[arg(short, long, default_value = "audit.html", value_parser = crate::out::html)]
    out: PathBuf,
    /// One JSON object per photo on stdout as its batch is classified (path, true class, top
    /// five, where the network looked, or the error), instead of the summary. The path is the
    /// file's exact name (bytes that are not UTF-8 written as \xE9), where the report and the
    /// summary escape what a screen would obey or hide.
    #[arg(long)]
    json: bool,
    /// Photos per pass of the network (1 to 256); default: as many as the memory budget
    /// allows, at most 4 on the CPU (flex) and 16 on the GPU.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    batch: Option<u16>,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let mut report = Report::default();
    let (files, paths) = list(&args.dir, &mut report)?;
    // The report of an earlier run, written into the folder, is not one of its files (a photo
    // that the report's name links to is, and is refused below).
    let earlier_report =
        |file: &Path| file.extension().is_some_and(|e| e == "html") && crate::out::same_file(file, &args.out);
    let (files, paths): (Vec<PathBuf>, Vec<String>) =
        files.into_iter().zip(paths).filter(|(file, _)| !earlier_report(file)).unzip();
    // Folders are named as shown (escaped), so their classes are too.
    let entries = entries(&paths, &model.labels.printable(), Some(xai_audit::IMAGENET_IDS), &mut report);
    if entries.is_empty() {
        let why = report.notes.first().map(|note| format!(" ({note})")).unwrap_or_default();
        bail!("{}: no photos in it or in its class folders{why}", args.dir.display());
    }
    let weights = args.model.weights_file();
    let inputs = entries.iter().map(|e| files[e.index].as_path()).chain(weights.as_deref());
    crate::out::refuse_clash([args.out.as_path()], inputs, "an input")?;
    let side = model.input_size.get() as usize;
    let on_gpu = matches!(args.model.backend(), Backend::Wgpu);
    let batch = args.batch.map_or_else(|| compute::photos_per_pass(side, on_gpu), usize::from);
    // From here on a Ctrl-C leaves a report; before, it ends the process as usual.
    let stop = stop_on_ctrl_c()?;
    let mut progress = Progress::new("audit", "photos", entries.len() as u64);
    // An error on the device (hours into a large folder, say) ends the work, not the report.
    let mut failure = None;
    for chunk in entries.chunks(batch) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let read = chunk.iter().map(|entry| (photo(entry), read(&model, &files[entry.index]))).collect();
        let photos = match block_on(compute::classify(&model.net, &model.labels, read)) {
            Ok(photos) => photos,
            Err(error) => {
                failure = Some(format!("classifying a batch: {}", crate::one_line(&error.into())));
                stop.store(true, Ordering::Relaxed);
                break;
            }
        };
        for (photo, entry) in photos.into_iter().zip(chunk) {
            // Streamed, so that a pipe sees each batch as it is classified.
            if args.json {
                progress.println(&exact_json_line(&photo, &files[entry.index], &args.dir));
            }
            report.add(photo);
        }
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    let by_path = by_path(&entries, &files);
    let (overlays, overlays_done) = overlays(&model, &by_path, &report, &stop);
    let mut pictures = Pictures { overlays, ..Pictures::default() };
    let concepts_done = class_concepts(&model, &by_path, &mut report, &mut pictures, &stop);
    // A Ctrl-C after the last of the work stopped nothing.
    let all_done = report.photos.len() == entries.len() && overlays_done && concepts_done;
    let stopped = stop.load(Ordering::Relaxed) && !all_done;
    if stopped {
        let how = failure.as_ref().map_or("stopped by Ctrl-C".into(), |why| format!("stopped by an error ({why})"));
        report.note(stopped_note(&how, report.photos.len(), entries.len()));
    }
    let title = format!("xai audit of {}", args.dir.display());
    std::fs::write(&args.out, xai_audit::html::render(&report, &model.labels, &title, &pictures))
        .with_context(|| args.out.display().to_string())?;
    if !args.json {
        summary(&report, &model, &args.out);
    } else if stopped && failure.is_none() {
        eprintln!("xai: {}; report: {}", report.notes.last().expect("the note above"), args.out.display());
    }
    if let Some(why) = failure {
        bail!("{why}; the report of what was done: {}", args.out.display());
    }
    if stopped {
        // 128 + SIGINT, as a shell reports a command Ctrl-C ended.
        return Ok(ExitCode::from(130));
    }
    // A folder of which nothing could be read is a failed run, whatever its report says.
    if report.bad().count() == report.photos.len() {
        eprintln!("xai: none of the photos could be classified; report: {}", args.out.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A flag Ctrl-C sets, for the audit to stop at the next batch and write what it has; a second
/// Ctrl-C ends the process at once.
fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::Relaxed) {
            crate::out::remove_made_folders();
            std::process::exit(130);
        }
    })
    .context("listening for Ctrl-C")?;
    Ok(stop)
}

/// The photo's JSON line with its path as the file names it inside `dir`, for a script to open.
fn exact_json_line(photo: &Photo, file: &Path, dir: &Path) -> String {
    let exact = crate::path_text(file.strip_prefix(dir).unwrap_or(file));
    let exact = if std::path::MAIN_SEPARATOR == '/' { exact } else { exact.replace(std::path::MAIN_SEPARATOR, "/") };
    Photo { path: exact, ..photo.clone() }.json_line()
}

fn photo(entry: &Entry) -> Photo {
    Photo { path: entry.path.clone(), truth: entry.truth, top5: Vec::new(), map: None, error: None }
}

/// A photo's crop, or why not: said as the page says it, without the path (the report names it).
fn read(model: &Model, file: &Path) -> Result<image::RgbImage, String> {
    // The first cause is the file's path.
    model.read_image(file).map_err(|error| crate::causes_in_one_line(error.chain().skip(1)))
}

/// The folder's files and their paths inside it: its own files and its subfolders' files. A
/// subfolder's own folders are given as `a/b/`, for the report to note as deeper than the
/// layout; a subfolder that cannot be read is noted here. Only an unreadable `dir` is an error.
fn list(dir: &Path, report: &mut Report) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let (mut files, mut paths) = (Vec::new(), Vec::new());
    for (name, path, is_dir) in sorted_entries(dir).with_context(|| dir.display().to_string())? {
        if !is_dir {
            files.push(path);
            paths.push(name);
            continue;
        }
        match sorted_entries(&path) {
            Ok(inside) => {
                for (inner, path, nested) in inside {
                    paths.push(if nested { format!("{name}/{inner}/") } else { format!("{name}/{inner}") });
                    files.push(path);
                }
            }
            Err(error) => report.note(format!("folder '{name}' cannot be read: {error}")),
        }
    }
    Ok((files, paths))
}

/// A folder's entries sorted by name, as (printable name, path, is a folder); links are followed.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<(String, PathBuf, bool)>> {
    let mut entries: Vec<(String, PathBuf, bool)> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            Some((crate::shown(Path::new(&entry.file_name())), entry.path(), is_dir))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// Each photo's file by its path in the report; a path two files share (a name not UTF-8 and one
/// spelling its escape, noted by `entries`) is neither's, so that no overlay shows the other.
fn by_path<'a>(entries: &'a [Entry], files: &'a [PathBuf]) -> HashMap<&'a str, &'a Path> {
    let mut by_path = HashMap::new();
    let mut shared = Vec::new();
    for entry in entries {
        if by_path.insert(entry.path.as_str(), files[entry.index].as_path()).is_some() {
            shared.push(entry.path.as_str());
        }
    }
    by_path.retain(|path, _| !shared.contains(path));
    by_path
}

/// The overlays of the photos the report lists, by path (their maps came with the classes), and
/// whether they were all made before a stop.
fn overlays(
    model: &Model,
    files: &HashMap<&str, &Path>,
    report: &Report,
    stop: &AtomicBool,
) -> (HashMap<String, String>, bool) {
    let listed = report.confident_mistakes().into_iter().chain(report.unsure_right_answers());
    let mut overlays = HashMap::new();
    for photo in listed {
        if stop.load(Ordering::Relaxed) {
            return (overlays, false);
        }
        let Some(Ok(crop)) = files.get(photo.path.as_str()).map(|file| model.read_image(file)) else { continue };
        if let Some(map) = &photo.map {
            overlays.insert(photo.path.clone(), png_data_url(&compute::overlay(&crop, map)));
        }
    }
    (overlays, true)
}

/// The concepts each predicted class's photos share, with their example regions; whether every
/// class had its turn before a stop.
fn class_concepts(
    model: &Model,
    files: &HashMap<&str, &Path>,
    report: &mut Report,
    pictures: &mut Pictures,
    stop: &AtomicBool,
) -> bool {
    let samples: Vec<(usize, Vec<String>)> = report
        .concept_samples()
        .into_iter()
        .map(|(class, photos)| (class, photos.iter().map(|p| p.path.clone()).collect()))
        .collect();
    for (class, paths) in samples {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let photos: Vec<(String, image::RgbImage)> = paths
            .into_iter()
            .filter_map(|path| Some((path.clone(), model.read_image(files.get(path.as_str())?).ok()?)))
            .collect();
        if let Ok(Some((concepts, regions))) =
            block_on(compute::class_concepts(&model.net, &model.labels, class, &photos))
        {
            for (k, region) in regions.iter().enumerate() {
                pictures.regions.insert((class, k), png_data_url(region));
            }
            report.concepts.push(concepts);
        }
    }
    true
}

fn summary(report: &Report, model: &Model, out: &Path) {
    let percent = |share: Option<f64>| share.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s));
    let label = |class: usize| printable(&model.labels.distinct_name(class).unwrap_or_else(|| "?".into()));
    println!(
        "{} ({} with a true class), {} not classified",
        counted(report.photos.len(), "photo", "photos"),
        report.labelled_count(),
        report.bad().count()
    );
    println!("accuracy {}, top-5 accuracy {}", percent(report.accuracy()), percent(report.top5_accuracy()));
    for c in report.confusions() {
        let photos = counted(c.count, "photo", "photos");
        println!("confused: {} taken for {} ({photos})", label(c.truth), label(c.predicted));
    }
    for p in report.bad() {
        println!("not classified: {}: {}", printable(&p.path), printable(p.error.as_deref().unwrap_or_default()));
    }
    // Each concept by its share and its two likeliest classes, as the HTML shows it: concepts
    // of one class often share their first.
    for class in &report.concepts {
        let concept = |c: &xai_audit::SharedConcept| {
            let labels = c.labels.iter().take(2).map(|(l, p)| format!("{} {:.0}%", printable(l), 100.0 * p));
            format!("[{:.0}%] {}", 100.0 * c.share, labels.collect::<Vec<_>>().join(", "))
        };
        let concepts: Vec<String> = class.concepts.iter().map(concept).collect();
        println!("{} shares: {}", label(class.class), concepts.join("; "));
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    println!("report: {}", out.display());
}
