//! `xai eval`: how faithful a method's maps are to the network, per photo and on average.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use xai_explain::metrics::{faithfulness, Faithfulness};
use xai_explain::{CamRequest, Target};
use xai_model::Layer;

use crate::model::ModelArgs;

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
}

#[derive(clap::Args)]
/// Score a CAM method's faithfulness on your own photos (each explained for its top-1 class).
pub struct Args {
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[arg(long, default_value = "gradcam")]
    method: String,
    #[arg(long, default_value = "layer4")]
    layer: Layer,
    /// One metric; default: all four.
    #[arg(long, value_enum)]
    metric: Option<Metric>,
    #[command(flatten)]
    model: ModelArgs,
}

fn value(f: &Faithfulness, metric: Metric) -> f32 {
    match metric {
        Metric::Drop => f.drop,
        Metric::Increase => {
            if f.increase {
                100.0
            } else {
                0.0
            }
        }
        Metric::Deletion => f.deletion,
        Metric::Insertion => f.insertion,
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let method = xai_explain::method(&args.method)?;
    let model = args.model.load()?;
    let metrics: Vec<Metric> = match args.metric {
        Some(metric) => vec![metric],
        None => Metric::value_variants().to_vec(),
    };
    let names: Vec<String> = metrics.iter().map(|m| format!("{m:?}").to_lowercase()).collect();
    println!("{:<30} {}", "image", names.iter().map(|n| format!("{n:>10}")).collect::<String>());
    let mut totals = vec![0.0; metrics.len()];
    for path in &args.images {
        let crop = model.read_image(path)?;
        let input = model.net.input(std::slice::from_ref(&crop));
        let request = CamRequest { layer: args.layer, target: &Target::TopClass, method, eigen_smooth: false };
        let analysis = pollster::block_on(xai_explain::analyse(&model.net, &input, request))?.remove(0);
        let scores = pollster::block_on(faithfulness(&model.net, &input, analysis.class, &analysis.map))?;
        let values: Vec<f32> = metrics.iter().map(|&m| value(&scores, m)).collect();
        totals.iter_mut().zip(&values).for_each(|(t, v)| *t += v);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("{name:<30} {}", values.iter().map(|v| format!("{v:>10.3}")).collect::<String>());
    }
    let count = args.images.len() as f32;
    println!("{:<30} {}", "mean", totals.iter().map(|t| format!("{:>10.3}", t / count)).collect::<String>());
    Ok(ExitCode::SUCCESS)
}
