//! `xai sanity`: Adebayo et al.'s sanity checks of CAM methods on photos: does the map change
//! when the network's weights are randomized, from the head down, and when another class is
//! explained? Each photo on its own, then (for several) the mean and how many passed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use xai_explain::evidence::Evidence;
use xai_explain::sanity::{Sanity, SanityCheck, SIMILAR};
use xai_explain::similarity::Similarity;
use xai_explain::CamMethod;

use crate::model::{or_say, Model, ModelArgs};
use crate::printable;
use crate::target::TargetArgs;

#[derive(clap::Args)]
/// Sanity-check CAM methods on photos: model parameter randomization (cascading from the head
/// down) and a random class, each compared with the original map by Spearman rank correlation
/// and SSIM; with several photos, the mean over them too.
pub struct Args {
    /// The photos (PNG, JPEG, WebP, GIF, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// A method, or `all`: every method one shared pass explains (all but Score-CAM and
    /// Ablation-CAM), checked together at the cost of one.
    #[arg(long, default_value = "gradcam", value_parser = crate::method_name)]
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
    let model = args.model.load()?;
    let methods = xai_explain::methods_named(&args.method, args.target.layer(&model.net)?, model.net.tail())?;
    // Per method, its checks on every photo read.
    let mut checks: Vec<Vec<Sanity>> = vec![Vec::new(); methods.len()];
    let mut failed = false;
    for path in &args.images {
        let Some(crop) = or_say(model.read_image(path), &mut failed) else { continue };
        let of_photo = check_photo(&args, &model, &methods, path, &crop)?;
        checks.iter_mut().zip(of_photo).for_each(|(of_method, sanity)| of_method.push(sanity));
    }
    let photos = checks[0].len();
    if !args.json && photos > 1 {
        println!("Over {photos} photos: mean Spearman rank correlation with the original map (SSIM)");
        for (method, checks) in methods.iter().zip(&checks) {
            println!("\n{}", method.name());
            for (step, randomized) in checks[0].cascade.iter().enumerate() {
                let similarity = mean(checks.iter().map(|s| s.cascade[step].similarity));
                print_similarity(&format!("randomized down to {}", randomized.down_to), similarity);
            }
            print_similarity("a random other class", mean(checks.iter().map(|s| s.random_logit.similarity)));
            let passed = |test: fn(&Sanity) -> bool| checks.iter().filter(|s| test(s)).count();
            println!(
                "  passes the randomization test on {} of {photos} photos; the random-class test on {} of {photos}",
                passed(Sanity::passes_randomization),
                passed(Sanity::passes_random_logit)
            );
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Both checks of every method on one photo, printed (or written as evidence) as they end.
fn check_photo(
    args: &Args,
    model: &Model,
    methods: &[&dyn CamMethod],
    path: &Path,
    crop: &image::RgbImage,
) -> Result<Vec<Sanity>> {
    let layer = args.target.layer(&model.net)?;
    let input = model.net.input(std::slice::from_ref(crop));
    let target = args.target.target();
    let check = pollster::block_on(SanityCheck::start(&model.net, &input, layer, &target, methods, args.seed))?;
    let (class, originals) = (check.class(), check.originals().to_vec());
    let results = pollster::block_on(check.run())?;
    let label = |class: usize| printable(model.labels.name(class).unwrap_or_default());
    if !args.json {
        let name = crate::shown_name(path);
        let explaining = args.target.explaining();
        println!("{name}: {} (class {class}) at {layer}{explaining}, seed {}", label(class), args.seed);
        println!("Spearman rank correlation with the original map (SSIM); above {SIMILAR} the map kept its order");
    }
    for ((method, original), sanity) in methods.iter().zip(originals).zip(&results) {
        if args.json {
            let evidence = Evidence::new(&model.info, crop, class, &target, *method, layer, original.map)
                .named(&crate::path_text(path));
            println!("{}", serde_json::to_string(&Evidence { sanity: Some(sanity.clone()), ..evidence })?);
            continue;
        }
        println!("\n{}", method.name());
        for step in &sanity.cascade {
            print_similarity(&format!("randomized down to {}", step.down_to), step.similarity);
        }
        let logit = &sanity.random_logit;
        print_similarity(&format!("class {} ({})", logit.class, label(logit.class)), logit.similarity);
        println!("  {}", sanity.verdict);
    }
    if !args.json && args.images.len() > 1 {
        println!();
    }
    Ok(results)
}

fn print_similarity(what: &str, similarity: Similarity) {
    println!("  {what:<37} {:>6.3} ({:.3})", similarity.spearman, similarity.ssim);
}

fn mean(similarities: impl ExactSizeIterator<Item = Similarity>) -> Similarity {
    let count = similarities.len() as f32;
    let (spearman, ssim) = similarities.fold((0.0, 0.0), |(r, s), each| (r + each.spearman, s + each.ssim));
    Similarity { spearman: spearman / count, ssim: ssim / count }
}
