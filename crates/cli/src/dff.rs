//! `xai dff`: Deep Feature Factorization of one or several photos into shared concepts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use image::{imageops, RgbaImage};
use xai_audit::counted;
use xai_explain::dff::{concepts_of, ActivationRows, DffError, DffOptions, NmfOn, K_RANGE};
use xai_explain::render::{concept_colours, concept_composites};

use crate::backend::Backend;
use crate::legend;
use crate::model::ModelArgs;
use crate::progress::Progress;

#[derive(clap::Args)]
/// Factorise the photos' features at the network's last layer (layer4) into k concepts shared by
/// all of them.
pub struct Args {
    /// The photos (PNG, JPEG, WebP, GIF, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Number of concepts (1 to 16).
    #[arg(short, long, default_value_t = 5, value_parser = parse_k)]
    k: usize,
    /// Most multiplicative-update iterations (1 to 65535).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u16).range(1..))]
    iters: u16,
    #[command(flatten)]
    model: ModelArgs,
    /// Composite PNG (the photos, eight to a row, then each concept's colour, share and top labels);
    /// default dff.png.
    #[arg(short, long, conflicts_with = "json", value_parser = crate::out::png)]
    out: Option<PathBuf>,
    /// Print the concepts as JSON instead of writing a PNG.
    #[arg(long)]
    json: bool,
    /// Where the NMF runs: on the GPU for many photos when the network runs on one (auto), or
    /// always on the host or the GPU.
    #[arg(long, value_enum, default_value_t = Nmf::Auto)]
    nmf: Nmf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Nmf {
    Auto,
    Host,
    Gpu,
}

impl From<Nmf> for NmfOn {
    fn from(nmf: Nmf) -> Self {
        match nmf {
            Nmf::Auto => NmfOn::Auto,
            Nmf::Host => NmfOn::Host,
            Nmf::Gpu => NmfOn::Gpu,
        }
    }
}

/// Photos a pass of the network: a step of the progress (fewer for large inputs: the memory budget).
const PHOTOS_PER_PASS: usize = 8;

/// The legend's colour squares, and the space around them.
const SWATCH: u32 = 16;
const MARGIN: u32 = 8;

fn parse_k(arg: &str) -> Result<usize, String> {
    let k = arg.parse::<usize>().map_err(|e| e.to_string())?;
    K_RANGE.contains(&k).then_some(k).ok_or_else(|| DffError::K(k).to_string())
}

pub fn run(args: Args) -> Result<ExitCode> {
    // The composite's file, checked before any work (as a named one is); none for JSON.
    let out = match (&args.out, args.json) {
        (_, true) => None,
        (Some(out), false) => Some(out.clone()),
        (None, false) => Some(crate::out::png("dff.png").map_err(anyhow::Error::msg)?),
    };
    let weights = args.model.weights_file();
    crate::out::refuse_clash(out.as_deref(), args.images.iter().chain(&weights).map(PathBuf::as_path), "an input")?;
    // Said before the network runs on every photo, not after.
    if matches!((args.nmf, args.model.backend()), (Nmf::Gpu, Backend::Flex)) {
        bail!("--nmf gpu needs the network on the GPU too: give --backend wgpu");
    }
    let options = DffOptions { k: args.k, max_iterations: args.iters.into(), ..DffOptions::default() };
    let model = args.model.load()?;
    let crops = args.images.iter().map(|p| model.read_image(p)).collect::<Result<Vec<_>>>()?;
    let input = model.net.input(&crops);
    let mut rows = ActivationRows::new(&model.net, &input, PHOTOS_PER_PASS);
    let mut progress = Progress::new("dff", "photos", crops.len() as u64);
    loop {
        let finished = rows.step();
        progress.set(rows.progress().0 as u64);
        if finished {
            break;
        }
    }
    progress.finish();
    let found = concepts_of(&model.net, rows.matrix(), &model.labels, options, args.nmf.into());
    let result = pollster::block_on(found)?;
    let Some(out) = out else {
        let line = serde_json::json!({
            "k": args.k, "rel_error": result.rel_error, "iterations": result.iterations,
            "nmf": if result.nmf_on_gpu { "gpu" } else { "host" },
            "concepts": result.concepts,
            "images": args.images.iter().map(|p| crate::path_text(p)).collect::<Vec<_>>(),
        });
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    };
    let colours = concept_colours(args.k);
    // The legend, on stdout and drawn under the composites: colour, share, top labels.
    let lines: Vec<String> = result
        .concepts
        .iter()
        .enumerate()
        .map(|(k, concept)| {
            let labels: Vec<String> =
                concept.labels.iter().map(|(l, p)| format!("{} {p:.2}", crate::printable(l))).collect();
            format!("{:>2} {:>5.1}%  {}", k + 1, concept.share * 100.0, labels.join(", "))
        })
        .collect();
    let composites = concept_composites(&crops, &result.maps, 0.5);
    let text_width = lines.iter().map(|line| SWATCH + 2 * MARGIN + legend::width(line)).max().unwrap_or(0);
    let width = composites.width().max(text_width + MARGIN);
    let height = composites.height() + MARGIN + legend::LINE * args.k as u32;
    let mut canvas = RgbaImage::from_pixel(width, height, image::Rgba([255; 4]));
    imageops::overlay(&mut canvas, &composites, 0, 0);
    for (k, (line, colour)) in lines.iter().zip(&colours).enumerate() {
        let top = composites.height() + MARGIN + legend::LINE * k as u32;
        let swatch = RgbaImage::from_pixel(SWATCH, SWATCH, image::Rgba([colour[0], colour[1], colour[2], 255]));
        imageops::replace(&mut canvas, &swatch, i64::from(MARGIN), i64::from(top));
        legend::draw(&mut canvas, line, 2 * MARGIN + SWATCH, top, image::Rgba([20, 20, 20, 255]));
        println!("concept {line} #{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2]);
    }
    canvas.save(&out).with_context(|| out.display().to_string())?;
    println!(
        "{}: {}, k = {}, relative error {:.4}",
        crate::shown(&out),
        counted(crops.len(), "photo", "photos"),
        args.k,
        result.rel_error
    );
    Ok(ExitCode::SUCCESS)
}
