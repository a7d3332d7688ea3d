//! `cargo xtask bench`: our timings beside a peer's, measured in the same run on the same
//! machine, weights and photo; prints a table and writes target/bench.json. Timings are never
//! pass/fail.
//! - Native: `xai bench` (flex) against PyTorch on the CPU (2 threads), the explanations as
//!   multiples of our own forward pass, and DFF's NMF on every core against one.
//! - Browser: the app's wasm against onnxruntime-web in the same headless Chromium page, on
//!   WebGPU and on the CPU (bench/web), with an ONNX copy of the network (bench/onnx_resnet.py).
//!
//! The peers need a Python with torch, onnx, safetensors and pillow (`XAI_PYTHON`, default
//! `python3`).

use std::process::Command;

use serde_json::{json, Value};

use crate::{build_cli, modified, root, site, tools, weights, Result};

fn json_lines(command: &mut Command) -> Result<Vec<Value>> {
    eprintln!("xtask: $ {command:?}");
    let output = command.current_dir(root()).output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Other lines (a page's console errors) are passed on, not parsed.
    let (json, other): (Vec<&str>, Vec<&str>) = stdout.lines().partition(|l| l.starts_with('{'));
    other.iter().for_each(|line| eprintln!("{line}"));
    json.iter().map(|l| serde_json::from_str(l).map_err(|e| format!("{l}: {e}"))).collect()
}

fn ms(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or(f64::NAN)
}

/// A row of bench.json from two `{median_ms, min_ms, max_ms}` timings.
fn row(name: &str, ours: &Value, peer_name: &Value, peer: &Value) -> Value {
    json!({
        "name": name, "ours_ms": ms(ours, "median_ms"), "peer": peer_name, "peer_ms": ms(peer, "median_ms"),
        "ratio": ms(ours, "median_ms") / ms(peer, "median_ms"),
        "ours_min_ms": ms(ours, "min_ms"), "ours_max_ms": ms(ours, "max_ms"),
        "peer_min_ms": ms(peer, "min_ms"), "peer_max_ms": ms(peer, "max_ms"),
    })
}

pub fn bench() -> Result {
    let weights = weights()?.join("resnet50-int8.safetensors");
    let xai = build_cli()?;
    let ours = json_lines(
        Command::new(&xai)
            .args(["bench", "--json", "--runs", "10", "--nmf-photos", "1,8,50", "--weights"])
            .arg(&weights),
    )?;
    let case = |name: &str| ours.iter().find(|c| c["name"] == name).ok_or(format!("xai bench printed no {name} time"));
    let forward = case("forward")?;

    let python = std::env::var("XAI_PYTHON").unwrap_or_else(|_| "python3".into());
    let peer_help = "the peers need torch, onnx, safetensors and pillow; set XAI_PYTHON to such a Python";
    let peer = json_lines(
        Command::new(&python)
            .arg(root().join("bench/torch_forward.py"))
            .args(["--threads", "2", "--runs", "10", "--weights"])
            .arg(&weights),
    )
    .map_err(|e| format!("{e}\n({peer_help})"))?;
    let peer = &peer[0];

    let mut rows = vec![row("native_forward_vs_pytorch", forward, &peer["peer"], peer)];
    for (name, ours) in [
        ("gradcam_layer4_vs_forward", "gradcam_layer4"),
        ("gradcam_layer3_vs_forward", "gradcam_layer3"),
        ("gradcam++_layer4_vs_forward", "gradcam++_layer4"),
        ("dff_k5_vs_forward", "dff_k5"),
    ] {
        rows.push(row(name, case(ours)?, &json!("one forward pass of ours"), forward));
    }
    // The compare view's maps (every one-pass method from one pass) against one method alone.
    for layer in ["layer4", "layer3"] {
        let name = format!("compare_maps_{layer}_vs_gradcam");
        let peer = json!(format!("one Grad-CAM of ours at {layer}"));
        rows.push(row(&name, case(&format!("compare_maps_{layer}"))?, &peer, case(&format!("gradcam_{layer}"))?));
    }
    // DFF's NMF on every core against one, by number of photos: where every core starts to pay.
    for photos in [1, 8, 50] {
        let name = format!("nmf_every_core_{photos}_vs_one_core");
        let one_core = case(&format!("nmf_one_core_{photos}"))?;
        rows.push(row(&name, case(&format!("nmf_every_core_{photos}"))?, &json!("the same NMF on one core"), one_core));
    }
    rows.extend(browser_rows(&python, &weights).map_err(|e| format!("{e}\n({peer_help})"))?);

    println!("{:<40} {:>22} {:>22} {:>6}  peer", "name", "ours ms (min-max)", "peer ms (min-max)", "ratio");
    for row in &rows {
        let timing = |side: &str| {
            let median = ms(row, &format!("{side}_ms"));
            format!("{median:.1} ({:.1}-{:.1})", ms(row, &format!("{side}_min_ms")), ms(row, &format!("{side}_max_ms")))
        };
        println!(
            "{:<40} {:>22} {:>22} {:>6.2}  {}",
            row["name"].as_str().unwrap_or_default(),
            timing("ours"),
            timing("peer"),
            ms(row, "ratio"),
            row["peer"].as_str().unwrap_or_default()
        );
    }
    let out = root().join("target");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
    std::fs::write(out.join("bench.json"), text).map_err(|e| e.to_string())?;
    eprintln!("xtask: wrote target/bench.json");
    Ok(())
}

/// Our wasm against onnxruntime-web in Chromium: the ONNX graph is rebuilt from the weights when
/// they change, the site when its sources do.
fn browser_rows(python: &str, weights: &std::path::Path) -> Result<Vec<Value>> {
    site::build()?;
    tools::ensure_chromium()?;
    let dir = tools::ensure_bench_packages()?;
    let onnx = root().join("target/resnet50.onnx");
    if modified(&onnx).is_none_or(|built| modified(weights).is_some_and(|w| w > built)) {
        let mut export = Command::new(python);
        export.arg(root().join("bench/onnx_resnet.py")).arg("--weights").arg(weights).arg("-o").arg(&onnx);
        crate::run(&mut export)?;
    }
    json_lines(Command::new("node").arg(dir.join("run.mjs")).args(["--runs", "10"]))
}
