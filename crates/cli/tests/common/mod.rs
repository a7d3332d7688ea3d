//! Paths shared by the CLI's integration tests: they run the real `xai` binary on real weights.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
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

pub fn xai(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xai")).args(args).output().expect("xai runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
