//! `--backend wgpu` gives the same answer as the CPU backend. Needs a Vulkan driver (Mesa's
//! lavapipe runs it on the CPU; `cargo xtask test` installs it and sets XAI_REQUIRE_WGPU=1).

mod common;

use common::{fixtures, weights, xai};
use serde_json::Value;

fn logits(backend: &str) -> Option<Vec<f64>> {
    let chelsea = fixtures().join("images/chelsea.png").display().to_string();
    let weights = weights("int8").display().to_string();
    let output = xai(&["classify", &chelsea, "--json", "--weights", &weights, "--backend", backend]);
    if !output.status.success() {
        let stderr = common::stderr(&output);
        assert!(std::env::var_os("XAI_REQUIRE_WGPU").is_none(), "{backend}: {stderr}");
        println!("skipped: {stderr}");
        return None;
    }
    let line: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
    Some(line["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
}

#[test]
fn wgpu_matches_flex() {
    let Some(gpu) = logits("wgpu") else { return };
    let cpu = logits("flex").unwrap();
    let worst = gpu.iter().zip(&cpu).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!("wgpu vs flex: max logit difference {worst:.2e}");
    assert!(worst < 1e-2, "max logit difference {worst}");
}
