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
    let mut over_photos: Vec<OverPhotos> = methods.iter().map(|_| OverPhotos::default()).collect();
    let mut failed = false;
    for path in &args.images {
        let Some(crop) = or_say(model.read_image(path), &mut failed) else { continue };
        let checks = check_photo(&args, &model, &methods, path, &crop)?;
        over_photos.iter_mut().zip(&checks).for_each(|(over, sanity)| over.add(sanity));
    }
    if !args.json && over_photos[0].photos > 1 {
        let photos = over_photos[0].photos;
        println!("Over {photos} photos: mean Spearman rank correlation with the original map (SSIM)");
        for (method, over) in methods.iter().zip(&over_photos) {
            println!("\n{}", method.name());
            for (down_to, sum) in &over.cascade {
                print_similarity(&format!("randomized down to {down_to}"), mean(*sum, photos));
            }
            print_similarity("a random other class", mean(over.random_logit, photos));
            println!(
                "  passes the randomization test on {} of {photos} photos; the random-class test on {} of {photos}",
                over.randomization_passed, over.random_class_passed
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
    let layer = args.target.layer;
    let input = model.net.input(std::slice::from_ref(crop));
    let target = args.target.target();
    let check = pollster::block_on(SanityCheck::start(&model.net, &input, layer, &target, methods, args.seed))?;
    let (class, originals) = (check.class(), check.originals().to_vec());
    let results = pollster::block_on(check.run())?;
    let label = |class: usize| printable(model.labels.name(class).unwrap_or_default());
    if !args.json {
        let name = printable(&path.file_name().unwrap_or_default().to_string_lossy());
        println!("{name}: {} (class {class}) at {layer}, seed {}", label(class), args.seed);
        println!("Spearman rank correlation with the original map (SSIM); above {SIMILAR} the map kept its order");
    }
    for ((method, original), sanity) in methods.iter().zip(originals).zip(&results) {
        if args.json {
            let evidence = Evidence::new(&model.info, crop, class, &target, *method, layer, original.map);
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

/// One method's checks summed over the photos: each step's similarities, and how many photos
/// passed each test.
#[derive(Default)]
struct OverPhotos {
    photos: usize,
    cascade: Vec<(&'static str, Similarity)>,
    random_logit: Similarity,
    randomization_passed: usize,
    random_class_passed: usize,
}

impl OverPhotos {
    fn add(&mut self, sanity: &Sanity) {
        if self.cascade.is_empty() {
            self.cascade = sanity.cascade.iter().map(|step| (step.down_to, Similarity::default())).collect();
        }
        for ((_, sum), step) in self.cascade.iter_mut().zip(&sanity.cascade) {
            *sum = add(*sum, step.similarity);
        }
        self.random_logit = add(self.random_logit, sanity.random_logit.similarity);
        self.randomization_passed += usize::from(sanity.cascade_failure().is_none());
        self.random_class_passed += usize::from(!sanity.random_logit_fails());
        self.photos += 1;
    }
}

fn add(a: Similarity, b: Similarity) -> Similarity {
    Similarity { spearman: a.spearman + b.spearman, ssim: a.ssim + b.ssim }
}

fn mean(sum: Similarity, count: usize) -> Similarity {
    Similarity { spearman: sum.spearman / count as f32, ssim: sum.ssim / count as f32 }
}
