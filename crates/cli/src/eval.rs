//! `xai eval`: how faithful each method's maps are to the network, per photo and on average,
//! as a table or as evidence (one JSON object per photo and method).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use xai_explain::evidence::{crop_sha256, Evidence, VERSION};
use xai_explain::metrics::{scores, Scores};
use xai_explain::{CamMethod, Target};
use xai_model::Layer;

use crate::model::ModelArgs;
use crate::printable;

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Metric {
    /// Average drop in confidence, % (lower is better).
    Drop,
    /// Increase in confidence, % of photos (higher is better).
    Increase,
    /// Deletion AUC (lower is better).
    Deletion,
    /// Insertion AUC (higher is better).
    Insertion,
    /// ROAD, most relevant pixels imputed first: change in probability (lower is better).
    RoadMost,
    /// ROAD, least relevant first (higher is better).
    RoadLeast,
    /// ROAD combined, (least - most) / 2 (higher is better).
    Road,
}

#[derive(clap::Args)]
/// Score CAM methods' faithfulness on your own photos (each explained for its top-1 class).
pub struct Args {
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// A method, or `all`: every method one shared pass explains (all but Score-CAM and
    /// Ablation-CAM), from that one pass.
    #[arg(long, default_value = "gradcam")]
    method: String,
    #[arg(long, default_value = "layer4")]
    layer: Layer,
    /// One metric; default: all of them.
    #[arg(long, value_enum)]
    metric: Option<Metric>,
    /// One JSON object per photo and method (model, photo and map hashes, the raw map, every
    /// score), instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn value(s: &Scores, metric: Metric) -> f32 {
    let f = &s.faithfulness;
    match metric {
        Metric::Drop => f.drop,
        Metric::Increase => 100.0 * f32::from(u8::from(f.increase)),
        Metric::Deletion => f.deletion,
        Metric::Insertion => f.insertion,
        Metric::RoadMost => s.road.most_relevant_first,
        Metric::RoadLeast => s.road.least_relevant_first,
        Metric::Road => s.road.combined,
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let methods: Vec<&'static dyn CamMethod> = match args.method.as_str() {
        "all" => xai_explain::methods::one_pass(args.layer),
        name => vec![xai_explain::method(name)?],
    };
    let model = args.model.load()?;
    let metrics: Vec<Metric> = match args.metric {
        Some(metric) => vec![metric],
        None => Metric::value_variants().to_vec(),
    };
    if !args.json {
        let names = metrics.iter().map(|m| format!("{:>11}", format!("{m:?}").to_lowercase())).collect::<String>();
        println!("{:<24} {:<12} {names}", "image", "method");
    }
    let mut totals = vec![vec![0.0; metrics.len()]; methods.len()];
    for path in &args.images {
        let crop = model.read_image(path)?;
        let input = model.net.input(std::slice::from_ref(&crop));
        let each = xai_explain::analyse_each(&model.net, &input, args.layer, &Target::TopClass, &methods, false);
        let name = printable(&path.file_name().unwrap_or_default().to_string_lossy());
        for ((method, mut analyses), totals) in methods.iter().zip(pollster::block_on(each)?).zip(&mut totals) {
            let analysis = analyses.remove(0);
            let scores = pollster::block_on(scores(&model.net, &input, analysis.class, &analysis.map))?;
            let values: Vec<f32> = metrics.iter().map(|&m| value(&scores, m)).collect();
            totals.iter_mut().zip(&values).for_each(|(t, v)| *t += v);
            if args.json {
                let evidence = Evidence {
                    xai_lens: VERSION,
                    model: model.info.source.clone(),
                    model_sha256: model.info.source_sha256.clone(),
                    photo_sha256: crop_sha256(&crop),
                    class: analysis.class,
                    label: model.labels.name(analysis.class).unwrap_or_default().to_string(),
                    target: "top-1",
                    method: method.name(),
                    layer: args.layer.to_string(),
                    map: analysis.map,
                    scores: Some(scores),
                };
                println!("{}", serde_json::to_string(&evidence)?);
            } else {
                let row = values.iter().map(|v| format!("{v:>11.4}")).collect::<String>();
                println!("{name:<24} {:<12} {row}", method.name());
            }
        }
    }
    if !args.json {
        let count = args.images.len() as f32;
        for (method, totals) in methods.iter().zip(totals) {
            let row = totals.iter().map(|t| format!("{:>11.4}", t / count)).collect::<String>();
            println!("{:<24} {:<12} {row}", "mean", method.name());
        }
    }
    Ok(ExitCode::SUCCESS)
}
