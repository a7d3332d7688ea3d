//! `xai classify`: top classes of each photo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::model::{or_say, ModelArgs};

#[derive(clap::Args)]
/// Print the most probable classes of each image.
pub struct Args {
    /// Images to classify (PNG, JPEG, WebP, GIF, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// How many classes to print per image.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    top: u16,
    /// One JSON object per image per line, with every class's logit.
    #[arg(long)]
    json: bool,
    /// Print load and forward times on stderr.
    #[arg(long)]
    timings: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let start = Instant::now();
    let model = args.model.load()?;
    if args.timings {
        eprintln!("load: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
    }
    let mut failed = false;
    for path in &args.images {
        let Some(crop) = or_say(model.read_image(path), &mut failed) else { continue };
        let start = Instant::now();
        let logits = model.logits(&crop)?;
        if args.timings {
            eprintln!("forward: {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
        }
        let top = model.labels.top(&logits, args.top.into());
        if args.json {
            let line = serde_json::json!({ "image": crate::path_text(path), "top": top, "logits": logits });
            println!("{line}");
        } else {
            if args.images.len() > 1 {
                println!("{}", crate::shown(path));
            }
            for (rank, p) in top.iter().enumerate() {
                println!("{:>4}  {:.4}  {}", rank + 1, p.prob, crate::printable(&p.label));
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
