//! `xai sanity`: Adebayo et al.'s sanity checks of CAM methods on one photo: does the map
//! change when the network's weights are randomized, from the head down, and when another
//! class is explained?

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use xai_explain::evidence::Evidence;
use xai_explain::sanity::{SanityCheck, SIMILAR};

use crate::model::ModelArgs;
use crate::printable;
use crate::target::TargetArgs;

#[derive(clap::Args)]
/// Sanity-check CAM methods on a photo: model parameter randomization (cascading from the head
/// down) and a random class, each compared with the original map by Spearman rank correlation
/// and SSIM.
pub struct Args {
    /// The photo (PNG, JPEG, WebP, GIF, BMP).
    image: PathBuf,
    /// A method, or `all`: every method one shared pass explains (all but Score-CAM and
    /// Ablation-CAM), checked together at the cost of one.
    #[arg(long, default_value = "gradcam")]
    method: String,
    #[command(flatten)]
    target: TargetArgs,
    /// Draws the random weights and the random class: the same seed gives the same numbers.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object per method: the evidence `xai eval --json` writes, with the checks.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let methods = xai_explain::methods_named(&args.method, args.target.layer)?;
    let model = args.model.load()?;
    let crop = model.read_image(&args.image)?;
    let input = model.net.input(std::slice::from_ref(&crop));
    let target = args.target.target();
    let check =
        pollster::block_on(SanityCheck::start(&model.net, &input, args.target.layer, &target, &methods, args.seed))?;
    let (class, originals) = (check.class(), check.originals().to_vec());
    let results = pollster::block_on(check.run())?;
    let label = |class: usize| printable(model.labels.name(class).unwrap_or_default());
    if !args.json {
        let name = printable(&args.image.file_name().unwrap_or_default().to_string_lossy());
        println!("{name}: {} (class {class}) at {}, seed {}", label(class), args.target.layer, args.seed);
        println!("Spearman rank correlation with the original map (SSIM); above {SIMILAR} the map kept its order");
    }
    for ((method, original), sanity) in methods.iter().zip(originals).zip(results) {
        if args.json {
            let evidence = Evidence::new(&model.info, &crop, class, &target, *method, args.target.layer, original.map);
            println!("{}", serde_json::to_string(&Evidence { sanity: Some(sanity), ..evidence })?);
            continue;
        }
        println!("\n{}", method.name());
        for step in &sanity.cascade {
            let similarity = step.similarity;
            println!("  randomized down to {:<18} {:>6.3} ({:.3})", step.down_to, similarity.spearman, similarity.ssim);
        }
        let logit = &sanity.random_logit;
        let other = format!("class {} ({})", logit.class, label(logit.class));
        println!("  {other:<37} {:>6.3} ({:.3})", logit.similarity.spearman, logit.similarity.ssim);
        println!("  {}", sanity.verdict);
    }
    Ok(ExitCode::SUCCESS)
}
