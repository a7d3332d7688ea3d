//! `xai explain`: a class activation map of one photo, as a PNG overlay or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use xai_explain::channels::ChannelByChannel;
use xai_explain::render::{overlay, Colormap};
use xai_explain::{smooth, Analysis, CamRequest, Score, Target};
use xai_model::ResNet;

use crate::model::ModelArgs;
use crate::progress::Progress;
use crate::target::TargetArgs;

#[derive(clap::Args)]
/// Explain the network's prediction for one image with a CAM method.
pub struct Args {
    /// The photo (PNG, JPEG, WebP, GIF, BMP).
    image: PathBuf,
    /// gradcam, gradcam++, hirescam, xgradcam, layercam, eigencam, scorecam, ablationcam or cam.
    /// Score-CAM runs the network once per channel (2048 at layer4: a minute on two cores).
    #[arg(long, default_value = "gradcam")]
    method: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Overlay PNG to write, over the photo's centre square at its own resolution (what the
    /// network saw); default: IMAGE-METHOD-LAYER.png in the current directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// jet, turbo, viridis or inferno.
    #[arg(long, default_value = "jet")]
    colormap: Colormap,
    /// Opacity of the heatmap over the photo, 0 to 1.
    #[arg(long, default_value_t = 0.5, value_parser = parse_alpha)]
    alpha: f32,
    /// Project the weighted activations on their first principal component (less noise).
    #[arg(long)]
    eigen_smooth: bool,
    /// Average over flips and brightness changes; the map is then at the input's resolution.
    #[arg(long)]
    aug_smooth: bool,
    /// Print the raw map as JSON instead of writing a PNG.
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

pub fn run(args: Args) -> Result<ExitCode> {
    let method = xai_explain::method(&args.method)?;
    let model = args.model.load()?;
    let photo = model.read_photo(&args.image)?;
    let crop = xai_model::photo::center_crop(&photo, model.input_size);
    let input = model.net.input(std::slice::from_ref(&crop));
    let target = args.target.target();
    let request = CamRequest { layer: args.target.layer, target: &target, method, eigen_smooth: args.eigen_smooth };
    let mut analysis = match method.channel_scoring() {
        Some(_) => channel_by_channel(&model.net, &input, request)?,
        None => pollster::block_on(xai_explain::analyse(&model.net, &input, request))?.remove(0),
    };
    let class = analysis.class;
    if args.aug_smooth {
        // Every augmented copy explains the class of the plain pass.
        let target = Target { classes: Some(vec![class]), ..target.clone() };
        let request = CamRequest { target: &target, ..request };
        analysis.map = pollster::block_on(smooth::augmented_maps(&model.net, &input, request))?.remove(0);
    }
    let (map, prob) = (&analysis.map, analysis.probability());
    let label = model.labels.name(class).unwrap_or_default();
    if args.json {
        let rows: Vec<&[f32]> = map.values.chunks(map.width).collect();
        let line = serde_json::json!({
            "image": args.image, "class": class, "label": label, "prob": prob,
            "method": method.name(), "layer": args.target.layer.to_string(), "score": target.score,
            "map": rows, "map_size": [map.height, map.width],
        });
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.unwrap_or_else(|| {
        let stem = args.image.file_stem().unwrap_or_default().to_string_lossy();
        PathBuf::from(format!("{stem}-{}-{}.png", method.name(), args.target.layer))
    });
    // Drawn over the photo's own pixels where the network looked, not over its small crop.
    let (left, top, side) = xai_model::photo::crop_region(photo.width(), photo.height(), model.input_size);
    let region = image::imageops::crop_imm(&photo, left, top, side, side).to_image();
    drop(photo);
    overlay(&region, map, args.colormap, args.alpha).save(&out).with_context(|| out.display().to_string())?;
    let label = crate::printable(label);
    let score = match target.score {
        Score::Logit => String::new(),
        score => format!(", explaining its {score}"),
    };
    println!("{}: {} {label} ({:.3}), {} at {}{score}", out.display(), class, prob, method.name(), args.target.layer);
    Ok(ExitCode::SUCCESS)
}
