//! `xai explain`: class activation maps of photos, one method or every one-pass method, as PNG
//! overlays (one by one, or all on one sheet) or JSON.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use burn::tensor::Tensor;
use xai_audit::counted;
use xai_explain::channels::ChannelByChannel;
use xai_explain::render::{overlay, Colormap};
use xai_explain::{smooth, Analysis, CamMethod, CamRequest, Target};
use xai_model::{Layer, ResNet};

use crate::model::{or_say, Model, ModelArgs};
use crate::progress::Progress;
use crate::sheet::Sheet;
use crate::target::TargetArgs;

#[derive(clap::Args)]
/// Explain the network's prediction for photos with a CAM method, or with every method one pass
/// explains.
pub struct Args {
    /// The photos (PNG, JPEG, WebP, GIF, BMP); each is explained for its own top-1 class unless
    /// --class names one.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// gradcam, gradcam++, hirescam, xgradcam, layercam, eigencam, scorecam, ablationcam or cam;
    /// or `all`: every method one shared pass explains (all but Score-CAM and Ablation-CAM),
    /// from that one pass. Score-CAM runs the network once per channel (2048 at layer4: a minute
    /// on two cores).
    #[arg(long, default_value = "gradcam", value_parser = crate::method_name)]
    method: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Overlay PNG to write, for one photo and one method, over the photo's centre square at its
    /// own resolution (what the network saw).
    #[arg(short, long, conflicts_with_all = ["out_dir", "json"], value_parser = crate::out::png)]
    out: Option<PathBuf>,
    /// Folder for the overlays, IMAGE-METHOD-LAYER.png each (made if missing); default: the
    /// current directory.
    #[arg(long, conflicts_with = "json", value_parser = crate::out::folder)]
    out_dir: Option<PathBuf>,
    /// One PNG with every overlay of the run: a column per method, a row per photo, labelled.
    /// Then the overlays are written one by one only with --out-dir.
    #[arg(long, conflicts_with_all = ["out", "json"], value_parser = crate::out::png)]
    sheet: Option<PathBuf>,
    /// jet, turbo, viridis or inferno.
    #[arg(long, default_value = "jet", conflicts_with = "json")]
    colormap: Colormap,
    /// Opacity of the heatmap over the photo, 0 to 1.
    #[arg(long, default_value_t = 0.5, value_parser = parse_alpha, conflicts_with = "json")]
    alpha: f32,
    /// Project the weighted activations on their first principal component (less noise).
    #[arg(long)]
    eigen_smooth: bool,
    /// Average over flips and brightness changes; the map is then at the input's resolution.
    #[arg(long)]
    aug_smooth: bool,
    /// Print each raw map as a line of JSON instead of writing PNGs.
    #[arg(long)]
    json: bool,
}

fn parse_alpha(s: &str) -> Result<f32, String> {
    let alpha: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&alpha) {
        Ok(alpha)
    } else {
        Err("alpha must be between 0 and 1".into())
    }
}

/// Where each photo's overlay of each method goes, `[photo][method]`: checked before any work,
/// so that no overlay overwrites another made in the same run.
fn overlay_paths(args: &Args, methods: &[&dyn CamMethod], layer: Layer) -> Result<Vec<Vec<PathBuf>>> {
    if let Some(out) = &args.out {
        if args.images.len() > 1 || methods.len() > 1 {
            bail!("--out names one overlay: for several photos or methods, give --out-dir");
        }
        return Ok(vec![vec![out.clone()]]);
    }
    let dir = args.out_dir.clone().unwrap_or_default();
    let mut written: HashMap<PathBuf, &Path> = HashMap::new();
    let mut paths = Vec::new();
    for image in &args.images {
        let stem = image.file_stem().unwrap_or_default();
        let mut of_photo = Vec::new();
        for method in methods {
            // The photo's own bytes: a name in another encoding stays that name.
            let mut name = stem.to_os_string();
            name.push(format!("-{}-{layer}.png", method.name()));
            let path = dir.join(name);
            if let Some(other) = written.insert(path.clone(), image) {
                bail!(
                    "{} and {} would both write {}: explain them in separate runs",
                    other.display(),
                    image.display(),
                    path.display()
                );
            }
            of_photo.push(path);
        }
        paths.push(of_photo);
    }
    Ok(paths)
}

/// A method that runs passes of its own (Score-CAM: a minute on two cores), a batch of channels
/// at a time with its progress.
fn channel_by_channel(net: &ResNet, input: &Tensor<4>, request: CamRequest) -> Result<Analysis> {
    let mut steps = ChannelByChannel::start(net, input, request)?;
    let mut progress = Progress::new("explain", "channels", steps.progress().1 as u64);
    loop {
        let analysis = pollster::block_on(steps.step())?;
        progress.set(steps.progress().0 as u64);
        if let Some(analysis) = analysis {
            progress.finish();
            return Ok(analysis);
        }
    }
}

/// Each method's analysis of one photo's input: one shared pass, or a method's own passes.
fn analyses(args: &Args, model: &Model, methods: &[&dyn CamMethod], input: &Tensor<4>) -> Result<Vec<Analysis>> {
    let target = args.target.target();
    let (layer, eigen_smooth) = (args.target.layer(&model.net)?, args.eigen_smooth);
    let mut analyses = match methods {
        [method] if method.channel_scoring().is_some() => {
            let request = CamRequest { layer, target: &target, method: *method, eigen_smooth };
            vec![channel_by_channel(&model.net, input, request)?]
        }
        _ => {
            let each = xai_explain::analyse_each(&model.net, input, layer, &target, methods, eigen_smooth);
            pollster::block_on(each)?.into_iter().map(|mut of_method| of_method.remove(0)).collect()
        }
    };
    if args.aug_smooth {
        for (method, analysis) in methods.iter().zip(&mut analyses) {
            // Every augmented copy explains the class of the plain pass.
            let target = Target { classes: Some(vec![analysis.class]), ..target.clone() };
            let request = CamRequest { layer, target: &target, method: *method, eigen_smooth };
            analysis.map = pollster::block_on(smooth::augmented_maps(&model.net, input, request))?.remove(0);
        }
    }
    Ok(analyses)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let layer = args.target.layer(&model.net)?;
    let methods = xai_explain::methods_named(&args.method, layer, model.net.tail())?;
    let one_by_one = !args.json && (args.sheet.is_none() || args.out_dir.is_some());
    let overlays = if one_by_one { Some(overlay_paths(&args, &methods, layer)?) } else { None };
    let weights = args.model.weights_file();
    let inputs = args.images.iter().chain(&weights).map(PathBuf::as_path);
    let overlay_files = overlays.iter().flatten().flatten().map(PathBuf::as_path);
    crate::out::refuse_clash(overlay_files.clone().chain(args.sheet.as_deref()), inputs, "an input")?;
    crate::out::refuse_clash(args.sheet.as_deref(), overlay_files.clone(), "an overlay")?;
    for overlay in overlay_files {
        crate::out::writable(overlay).map_err(anyhow::Error::msg)?;
    }
    if let Some(dir) = args.out_dir.as_ref().filter(|_| overlays.is_some()) {
        crate::out::make_folder(dir).with_context(|| dir.display().to_string())?;
    }
    let mut sheet = args.sheet.as_ref().map(|_| Sheet::new(&methods.iter().map(|m| m.name()).collect::<Vec<_>>()));
    let (score, explaining) = (args.target.target().score, args.target.explaining());
    let mut failed = false;
    for (i, path) in args.images.iter().enumerate() {
        let Some(photo) = or_say(model.read_photo(path), &mut failed) else { continue };
        let crop = xai_model::photo::center_crop(&photo, model.input_size);
        let input = model.net.input(std::slice::from_ref(&crop));
        let analyses = analyses(&args, &model, &methods, &input)?;
        if args.json {
            for (method, analysis) in methods.iter().zip(&analyses) {
                let (map, class) = (&analysis.map, analysis.class);
                let rows: Vec<&[f32]> = map.values.chunks(map.width).collect();
                let line = serde_json::json!({
                    "image": crate::path_text(path), "class": class, "label": model.labels.name(class).unwrap_or_default(),
                    "prob": analysis.probability(), "method": method.name(), "layer": layer.to_string(),
                    "score": score, "map": rows, "map_size": [map.height, map.width],
                });
                println!("{line}");
            }
            continue;
        }
        // Drawn over the photo's own pixels where the network looked, not over its small crop.
        let (left, top, side) = xai_model::photo::crop_region(photo.width(), photo.height(), model.input_size);
        let region = image::imageops::crop_imm(&photo, left, top, side, side).to_image();
        drop(photo);
        // Every method explains the same class: the one asked for, or the photo's top-1.
        let (class, prob) = (analyses[0].class, analyses[0].probability());
        let label = crate::printable(model.labels.name(class).unwrap_or_default());
        if let Some(sheet) = &mut sheet {
            let name = crate::shown_name(path);
            sheet.add_row(&format!("{name}: {class} {label} ({prob:.3})"));
        }
        // One overlay at a time: at a large photo's resolution, each weighs tens of megabytes.
        for (m, (method, analysis)) in methods.iter().zip(&analyses).enumerate() {
            let picture = overlay(&region, &analysis.map, args.colormap, args.alpha);
            if let Some(overlays) = &overlays {
                let out = &overlays[i][m];
                picture.save(out).with_context(|| out.display().to_string())?;
                println!(
                    "{}: {class} {label} ({prob:.3}), {} at {layer}{explaining}",
                    crate::shown(out),
                    method.name()
                );
            }
            if let Some(sheet) = &mut sheet {
                sheet.put(m, &picture);
            }
        }
        if overlays.is_none() {
            println!("{}: {class} {label} ({prob:.3})", crate::shown(path));
        }
    }
    if let (Some(sheet), Some(out)) = (sheet, &args.sheet)
        && sheet.rows() > 0
    {
        let size =
            format!("{} x {}", counted(sheet.rows(), "photo", "photos"), counted(methods.len(), "method", "methods"));
        sheet.render().save(out).with_context(|| out.display().to_string())?;
        println!("{}: {size} at {layer}{explaining}", crate::shown(out));
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
