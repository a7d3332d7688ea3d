//! `xai bench`: in-process timings of the forward pass and of the explanations, each as a
//! multiple of one forward pass measured in the same run. Median of `--runs` after a warm-up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use xai_explain::dff::{activation_matrix, factorize_activations, factorize_concepts, Cores, DffOptions, NmfOn};
use xai_explain::readback;
use xai_explain::{CamRequest, Target};
use xai_model::Layer;

use crate::model::ModelArgs;

#[derive(clap::Args)]
/// Time the forward pass and the explanations on one photo (default: the chelsea fixture).
pub struct Args {
    /// The photo; default: the repository's chelsea fixture.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Timed runs per case, after one warm-up run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// Also time Score-CAM at the last layer (one run: ResNet-50 makes 2048 forward passes at
    /// layer4).
    #[arg(long)]
    scorecam: bool,
    /// Also time the forward pass of this many copies of the photo at once (2 to 64;
    /// `forward_batchN`).
    #[arg(long, value_parser = clap::value_parser!(u16).range(2..=64))]
    batch: Option<u16>,
    /// Also time DFF's NMF alone (k = 5) on the last layer's activations of this many copies of the
    /// photo: on the host, on one core and on every core (`nmf_one_core_N`, `nmf_every_core_N`,
    /// with the activations' readback), and on the GPU (`nmf_gpu_N`, with `--backend wgpu`):
    /// where every core, and the GPU, start to pay. Comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..=256))]
    nmf_photos: Vec<u16>,
    /// One JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

/// A timed case: its name, how many runs, and the work of one run.
type Case<'a> = (&'a str, usize, Box<dyn Fn() -> Result<()> + 'a>);

/// Median, min and max in milliseconds of `runs` calls after one warm-up call.
fn time(runs: usize, mut run: impl FnMut() -> Result<()>) -> Result<[f64; 3]> {
    run()?;
    let mut times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            run().map(|()| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<Vec<f64>>>()?;
    times.sort_by(f64::total_cmp);
    Ok([times[times.len() / 2], times[0], times[times.len() - 1]])
}

/// The default photo, in the repository.
const CHELSEA: &str = "tests/fixtures/images/chelsea.png";

pub fn run(args: Args) -> Result<ExitCode> {
    let image = match &args.image {
        Some(image) => image.clone(),
        None => crate::model::in_repository(CHELSEA).with_context(|| format!("{CHELSEA} is not here: give --image"))?,
    };
    let model = args.model.load()?;
    let crop = model.read_image(&image)?;
    let runs = usize::from(args.runs);
    let net = &model.net;
    let input = net.input(std::slice::from_ref(&crop));
    let forward = |input: &Tensor<4>| -> Result<()> {
        pollster::block_on(readback::read_floats(net.forward(input.clone())))?;
        Ok(())
    };
    let cam = |method: &str, layer: Layer| -> Result<()> {
        let method = xai_explain::method(method)?;
        let request = CamRequest { layer, target: &Target::TOP_CLASS, method, eigen_smooth: false };
        pollster::block_on(xai_explain::analyse(net, &input, request))?;
        Ok(())
    };
    // The compare view's maps: every one-pass method from one shared pass.
    let compare = |layer: Layer| -> Result<()> {
        let methods = xai_explain::methods::one_pass(layer, net.tail());
        pollster::block_on(xai_explain::analyse_each(net, &input, layer, &Target::TOP_CLASS, &methods, false))?;
        Ok(())
    };
    // [positions, channels] as DFF factorises them; `--nmf gpu` only where the network has a GPU.
    let nmf_inputs: Vec<Tensor<2>> = args
        .nmf_photos
        .iter()
        .map(|&n| activation_matrix(net, &net.input(&vec![crop.clone(); usize::from(n)])).0)
        .collect();
    let nmf_names: Vec<[String; 3]> = args
        .nmf_photos
        .iter()
        .map(|n| [format!("nmf_one_core_{n}"), format!("nmf_every_core_{n}"), format!("nmf_gpu_{n}")])
        .collect();
    let nmf = |a: &Tensor<2>, on: NmfOn, cores: Cores| -> Result<()> {
        let options = DffOptions { cores, ..DffOptions::default() };
        pollster::block_on(factorize_activations(a.clone(), options, on)).map(drop).map_err(Into::into)
    };
    let batch = args.batch.map(|n| (format!("forward_batch{n}"), net.input(&vec![crop.clone(); usize::from(n)])));
    // At the last layer (layer4; a CIFAR ResNet's layer3), where the gradient has a closed form,
    // and the one before it, where it takes a backward pass.
    let last = net.last_layer();
    let before = Layer::ALL[last.stage_index() - 1];
    let names = [
        format!("gradcam_{last}"),
        format!("gradcam_{before}"),
        format!("gradcam++_{last}"),
        format!("compare_maps_{last}"),
        format!("compare_maps_{before}"),
        format!("scorecam_{last}"),
    ];
    let mut cases: Vec<Case> = vec![
        ("forward", runs, Box::new(|| forward(&input))),
        (&names[0], runs, Box::new(|| cam("gradcam", last))),
        (&names[1], runs, Box::new(|| cam("gradcam", before))),
        (&names[2], runs, Box::new(|| cam("gradcam++", last))),
        (&names[3], runs, Box::new(|| compare(last))),
        (&names[4], runs, Box::new(|| compare(before))),
        (
            "dff_k5",
            runs,
            Box::new(|| {
                let options = DffOptions::default();
                pollster::block_on(factorize_concepts(net, &input, &model.labels, options))
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
    ];
    if let Some((name, input)) = &batch {
        cases.push((name, runs, Box::new(|| forward(input))));
    }
    let on_gpu = input.device() != burn::tensor::Device::flex();
    for (a, [one_core, every_core, gpu]) in nmf_inputs.iter().zip(&nmf_names) {
        cases.push((one_core, runs, Box::new(move || nmf(a, NmfOn::Host, Cores::One))));
        cases.push((every_core, runs, Box::new(move || nmf(a, NmfOn::Host, Cores::Every))));
        if on_gpu {
            cases.push((gpu, runs, Box::new(move || nmf(a, NmfOn::Gpu, Cores::Auto))));
        }
    }
    if args.scorecam {
        cases.push((&names[5], 1, Box::new(|| cam("scorecam", last))));
    }
    if !args.json {
        println!("{:<20} {:>10} {:>10} {:>10} {:>10}", "case", "median ms", "min", "max", "x forward");
    }
    let mut forward_ms = f64::NAN;
    for (name, runs, case) in &cases {
        let [median, min, max] = time(*runs, case)?;
        if *name == "forward" {
            forward_ms = median;
        }
        if args.json {
            println!(
                "{}",
                serde_json::json!({"name": name, "median_ms": median, "min_ms": min, "max_ms": max, "forward_ms": forward_ms})
            );
        } else {
            println!("{name:<20} {median:>10.1} {min:>10.1} {max:>10.1} {:>10.2}", median / forward_ms);
        }
    }
    Ok(ExitCode::SUCCESS)
}
