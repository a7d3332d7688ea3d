//! `xai eval`: how faithful each method's maps are to the network, per photo and on average,
//! as a table or as evidence (one JSON object per photo and method).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use xai_explain::evidence::Evidence;
use xai_explain::metrics::Metric;
use xai_explain::scoring::Scorer;
use xai_explain::Target;
use xai_model::Layer;

use crate::model::{or_say, ModelArgs};

#[derive(clap::Args)]
/// Score CAM methods' faithfulness on your own photos (each explained for its top-1 class).
pub struct Args {
    /// The photos (PNG, JPEG, WebP, GIF, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// A method, or `all`: every method one shared pass explains (all but Score-CAM and
    /// Ablation-CAM), from that one pass.
    #[arg(long, default_value = "gradcam", value_parser = crate::method_name)]
    method: String,
    /// The layer explained: layer1 (56 x 56 at 224 px) to layer4 (7 x 7: the features the
    /// class is decided from); default: the network's last (layer3 in He et al.'s three-stage
    /// CIFAR ResNets).
    #[arg(long)]
    layer: Option<Layer>,
    /// One metric (drop, increase, deletion, insertion, road-most, road-least, road); default:
    /// all of them (JSON has every score).
    #[arg(long, value_parser = parse_metric, conflicts_with = "json")]
    metric: Option<Metric>,
    /// One JSON object per photo and method (model, photo and map hashes, the raw map, every
    /// score), instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn parse_metric(name: &str) -> Result<Metric, String> {
    Metric::by_name(name).ok_or_else(|| format!("valid: {}", Metric::ALL.map(Metric::name).join(", ")))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let layer = crate::target::layer_of(args.layer, &model.net)?;
    let methods = xai_explain::methods_named(&args.method, layer, model.net.tail())?;
    let metrics: Vec<Metric> = match args.metric {
        Some(metric) => vec![metric],
        None => Metric::ALL.to_vec(),
    };
    if !args.json {
        let names = metrics.iter().map(|m| format!("{:>11}", m.name())).collect::<String>();
        println!("{:<24} {:<12} {names}", "image", "method");
    }
    let mut totals = vec![vec![0.0; metrics.len()]; methods.len()];
    let (mut scored, mut failed) = (0, false);
    for path in &args.images {
        let Some(crop) = or_say(model.read_image(path), &mut failed) else { continue };
        scored += 1;
        let input = model.net.input(std::slice::from_ref(&crop));
        let each = xai_explain::analyse_each(&model.net, &input, layer, &Target::TOP_CLASS, &methods, false);
        let each = pollster::block_on(each)?;
        // Every method explains the top class of the one shared pass.
        let class = each[0][0].class;
        let mut scorer = pollster::block_on(Scorer::new(&model.net, &input, class))?.only(&metrics);
        let name = crate::shown_name(path);
        for ((method, mut analyses), totals) in methods.iter().zip(each).zip(&mut totals) {
            let analysis = analyses.remove(0);
            let scores = pollster::block_on(scorer.scores(method.name(), analysis.map.clone()))?;
            let values: Vec<f32> = metrics.iter().map(|m| m.value(&scores)).collect();
            totals.iter_mut().zip(&values).for_each(|(t, v)| *t += v);
            if args.json {
                let evidence = Evidence {
                    scores: Some(scores),
                    ..Evidence::new(
                        &model.info,
                        &crop,
                        analysis.class,
                        &Target::TOP_CLASS,
                        *method,
                        layer,
                        analysis.map,
                    )
                    .named(&crate::path_text(path))
                };
                println!("{}", serde_json::to_string(&evidence)?);
            } else {
                let row = values.iter().map(|v| format!("{v:>11.4}")).collect::<String>();
                println!("{name:<24} {:<12} {row}", method.name());
            }
        }
    }
    if !args.json && scored > 0 {
        let count = scored as f32;
        for (method, totals) in methods.iter().zip(totals) {
            let row = totals.iter().map(|t| format!("{:>11.4}", t / count)).collect::<String>();
            println!("{:<24} {:<12} {row}", "mean", method.name());
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
