//! `xai audit`: a folder of photos classified in batches, and what it says about the model:
//! accuracy, the most confused classes, the most confident mistakes and the least confident
//! right answers, as a self-contained HTML report (with Grad-CAM overlays of the photos it lists)
//! and, with `--json`, one JSON object per photo.

use std::collections::HashMap;
use std::io::{Cursor, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use xai_audit::{class_of_folder, Photo, Report};
use xai_explain::render::{overlay, Colormap};
use xai_explain::{CamRequest, Target};
use xai_model::Layer;

use crate::model::{Model, ModelArgs};
use crate::printable;

#[derive(clap::Args)]
/// Audit a folder of photos. Photos in subfolders named after classes (DIR/tabby/1.jpg, the
/// ImageFolder layout) are checked against that class: accuracy, confusions, mistakes.
pub struct Args {
    dir: PathBuf,
    /// The report: one self-contained HTML file, overlays inline.
    #[arg(long, default_value = "audit.html")]
    out: PathBuf,
    /// One JSON object per photo on stdout (path, true class, top five, or the error), instead
    /// of the summary.
    #[arg(long)]
    json: bool,
    /// Photos per pass of the network; default: as many as the memory budget allows, at most 16.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    batch: Option<u16>,
    #[command(flatten)]
    model: ModelArgs,
}

/// A photo to classify: where it is, its path in the report, and its true class if known.
struct Entry {
    file: PathBuf,
    path: String,
    truth: Option<usize>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let mut report = Report::default();
    let entries = list(&args.dir, &model, &mut report)?;
    let side = model.input_size.get() as usize;
    let batch = args.batch.map_or_else(|| xai_explain::budget::images_per_pass(side, side, 16), usize::from);
    let mut progress = Progress::new(entries.len() as u64);
    for chunk in entries.chunks(batch) {
        classify(&model, chunk, &mut report);
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    let thumbnails = overlays(&model, &entries, &report);
    let title = format!("xai audit of {}", args.dir.display());
    std::fs::write(&args.out, xai_audit::html::render(&report, &model.labels, &title, &thumbnails))
        .with_context(|| args.out.display().to_string())?;
    if args.json {
        print!("{}", report.json_lines());
    } else {
        summary(&report, &model, &args.out);
    }
    Ok(ExitCode::SUCCESS)
}

/// The folder's photos: its own files (no true class), and the files of each subfolder named
/// after a class. What does not fit (a folder naming no class, a deeper folder, one that cannot
/// be read) is noted in the report; only an unreadable `dir` itself is an error.
fn list(dir: &Path, model: &Model, report: &mut Report) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (name, path, is_dir) in sorted_entries(dir).with_context(|| dir.display().to_string())? {
        if !is_dir {
            entries.push(Entry { file: path, path: name, truth: None });
            continue;
        }
        let truth = class_of_folder(&name, &model.labels);
        if truth.is_none() {
            report.note(format!("folder '{name}' names no class of the model: its photos have no true class"));
        }
        let inside = match sorted_entries(&path) {
            Ok(inside) => inside,
            Err(error) => {
                report.note(format!("folder '{name}' cannot be read: {error}"));
                continue;
            }
        };
        for (file, path, nested) in inside {
            if nested {
                report.note(format!("folder '{name}/{file}' is deeper than class/photo: skipped"));
            } else {
                entries.push(Entry { file: path, path: format!("{name}/{file}"), truth });
            }
        }
    }
    Ok(entries)
}

/// A folder's entries sorted by name, as (printable name, path, is a folder); links are followed.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<(String, PathBuf, bool)>> {
    let mut entries: Vec<(String, PathBuf, bool)> = std::fs::read_dir(dir)?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
            Some((printable(&entry.file_name().to_string_lossy()), entry.path(), is_dir))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// Reads and classifies one batch, in order; a photo that cannot be read is reported with its
/// error.
fn classify(model: &Model, chunk: &[Entry], report: &mut Report) {
    let mut photos: Vec<Photo> = Vec::with_capacity(chunk.len());
    let mut crops = Vec::with_capacity(chunk.len());
    for entry in chunk {
        let mut photo = Photo { path: entry.path.clone(), truth: entry.truth, top5: Vec::new(), error: None };
        match model.read_image(&entry.file) {
            Ok(crop) => crops.push(crop),
            Err(error) => photo.error = Some(format!("{error:#}")),
        }
        photos.push(photo);
    }
    if !crops.is_empty() {
        let logits = model.net.forward(model.net.input(&crops)).into_data().try_into_vec::<f32>();
        let classes = model.net.classes();
        for (i, photo) in photos.iter_mut().filter(|p| p.error.is_none()).enumerate() {
            match &logits {
                Ok(logits) => photo.top5 = model.labels.top(&logits[i * classes..(i + 1) * classes], 5),
                Err(error) => photo.error = Some(format!("reading the logits: {error:?}")),
            }
        }
    }
    photos.into_iter().for_each(|photo| report.add(photo));
}

/// Grad-CAM overlays (of the first choice, at layer4) of the photos the report lists, as data
/// URLs by path.
fn overlays(model: &Model, entries: &[Entry], report: &Report) -> HashMap<String, String> {
    let files: HashMap<&str, &Path> = entries.iter().map(|e| (e.path.as_str(), e.file.as_path())).collect();
    let listed = report.confident_mistakes().into_iter().chain(report.unsure_right_answers());
    let method = xai_explain::method("gradcam").expect("Grad-CAM is a method");
    let mut thumbnails = HashMap::new();
    for photo in listed {
        let Some(Ok(crop)) = files.get(photo.path.as_str()).map(|file| model.read_image(file)) else { continue };
        let target = Target::classes(vec![photo.top5[0].class]);
        let request = CamRequest { layer: Layer::Layer4, target: &target, method, eigen_smooth: false };
        let input = model.net.input(std::slice::from_ref(&crop));
        let Ok(mut analyses) = pollster::block_on(xai_explain::analyse(&model.net, &input, request)) else { continue };
        let mut png = Vec::new();
        let image = overlay(&crop, &analyses.remove(0).map, Colormap::Jet, 0.5);
        if image.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).is_ok() {
            thumbnails.insert(photo.path.clone(), format!("data:image/png;base64,{}", STANDARD.encode(&png)));
        }
    }
    thumbnails
}

fn summary(report: &Report, model: &Model, out: &Path) {
    let percent = |share: Option<f64>| share.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s));
    let label = |class: usize| printable(model.labels.name(class).unwrap_or("?"));
    println!(
        "{} photos ({} with a true class), {} not classified",
        report.photos.len(),
        report.labelled_count(),
        report.bad().count()
    );
    println!("accuracy {}, top-5 accuracy {}", percent(report.accuracy()), percent(report.top5_accuracy()));
    for c in report.confusions() {
        println!("confused: {} taken for {} ({} photos)", label(c.truth), label(c.predicted), c.count);
    }
    for p in report.bad() {
        println!("not classified: {}: {}", printable(&p.path), p.error.as_deref().unwrap_or_default());
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    println!("report: {}", out.display());
}

/// Photos done of the total: a bar on a terminal, a plain line per batch otherwise (a log).
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    start: Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{bar:40} {pos}/{len} photos, {per_sec}, {eta} left")
                .expect("a valid template");
            ProgressBar::new(total).with_style(style)
        });
        Self { bar, total, done: 0, start: Instant::now() }
    }

    fn advance(&mut self, photos: u64) {
        self.done += photos;
        match &self.bar {
            Some(bar) => bar.inc(photos),
            None => {
                let (done, seconds) = (self.done, self.start.elapsed().as_secs_f64());
                let rate = done as f64 / seconds.max(1e-9);
                let left = (self.total - done) as f64 / rate.max(1e-9);
                eprintln!("audit: {done}/{} photos, {rate:.1} photos/s, {left:.0} s left", self.total);
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
