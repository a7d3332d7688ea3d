//! `xai dff`: Deep Feature Factorization of one or several photos into shared concepts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use image::{imageops, RgbaImage};
use xai_explain::dff::{factorize_concepts, DffOptions};
use xai_explain::render::{concept_colours, concept_composites};

use crate::model::ModelArgs;

#[derive(clap::Args)]
/// Factorise the photos' layer4 features into k concepts shared by all of them.
pub struct Args {
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Number of concepts (1 to 16).
    #[arg(short, default_value_t = 5)]
    k: usize,
    /// Most multiplicative-update iterations.
    #[arg(long, default_value_t = 200)]
    iters: usize,
    #[command(flatten)]
    model: ModelArgs,
    /// Composite PNG (the photos side by side, a colour strip per concept below); default dff.png.
    #[arg(long, default_value = "dff.png")]
    out: PathBuf,
    /// Print the concepts as JSON instead of writing a PNG.
    #[arg(long)]
    json: bool,
}

/// Height of each concept's colour swatch under the composite.
const SWATCH: u32 = 12;

pub fn run(args: Args) -> Result<ExitCode> {
    let options = DffOptions { k: args.k, max_iterations: args.iters, ..DffOptions::default() };
    let model = args.model.load()?;
    let crops = args.images.iter().map(|p| model.read_image(p)).collect::<Result<Vec<_>>>()?;
    let input = model.net.input(&crops);
    let result = pollster::block_on(factorize_concepts(&model.net, &input, &model.labels, options))?;
    if args.json {
        let line = serde_json::json!({
            "k": args.k, "rel_error": result.rel_error, "iterations": result.iterations,
            "concepts": result.concepts, "images": args.images,
        });
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    let size = crops[0].width();
    let colours = concept_colours(args.k);
    let mut canvas =
        RgbaImage::from_pixel(size * crops.len() as u32, size + SWATCH * args.k as u32, image::Rgba([255; 4]));
    imageops::replace(&mut canvas, &concept_composites(&crops, &result.maps, 0.5), 0, 0);
    for (k, (concept, colour)) in result.concepts.iter().zip(&colours).enumerate() {
        let width = (canvas.width() as f32 * concept.share).round().max(1.0) as u32;
        let swatch = RgbaImage::from_pixel(width, SWATCH - 2, image::Rgba([colour[0], colour[1], colour[2], 255]));
        imageops::replace(&mut canvas, &swatch, 0, i64::from(size + SWATCH * k as u32));
        let labels: Vec<String> =
            concept.labels.iter().map(|(l, p)| format!("{} {p:.2}", crate::printable(l))).collect();
        println!(
            "concept {} #{:02x}{:02x}{:02x} share {:>4.1}%  {}",
            k + 1,
            colour[0],
            colour[1],
            colour[2],
            concept.share * 100.0,
            labels.join(", ")
        );
    }
    canvas.save(&args.out).with_context(|| args.out.display().to_string())?;
    println!(
        "{}: {} photo(s), k = {}, relative error {:.4}",
        args.out.display(),
        crops.len(),
        args.k,
        result.rel_error
    );
    Ok(ExitCode::SUCCESS)
}
