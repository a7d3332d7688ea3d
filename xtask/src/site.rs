//! `cargo xtask build`: the static site in `dist/`. The page's files as they are (`web/`), the
//! app's wasm with its JavaScript glue (wasm-bindgen, then wasm-opt for size), the int8 weights
//! (class names inside) and the demo photos. No bundler: that is all one takes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::{cargo, root, run, sha256, spawn, target_dir, tools, weights, Result};

/// The cargo profile of the page's wasm (see Cargo.toml).
const WEB_PROFILE: &str = "web";

/// The app's wasm, as wasm-bindgen names it and the page loads it.
const APP_WASM: &str = "xai-app_bg.wasm";

/// The photos the page offers (the app's `photo::DEMOS`), from the test fixtures.
const DEMO_PHOTOS: [&str; 4] = ["chelsea", "coffee", "rocket", "astronaut"];

/// What a visitor downloads before the page can show anything: the wasm, gzipped as a server
/// sends it, may weigh at most 3 MiB (issue 16's budget).
const WASM_BUDGET_GZIP: usize = 3 << 20;

pub fn build() -> Result {
    start()?.finish()
}

/// The site half made: the wasm built and bound, wasm-opt still at work on it unless its output
/// from an earlier build is still good.
pub struct Started {
    weights: PathBuf,
    optimising: Option<Optimising>,
}

/// wasm-opt at work, and the hash of the wasm it optimises, for [`stamp`] once it is done.
struct Optimising {
    wasm_opt: Child,
    source: String,
}

/// Builds the app's wasm and binds it (`xai-app_bg.wasm` and `xai-app.js`, which `web/boot.js`
/// imports, made in the target dir and kept there), then starts wasm-opt, which takes minutes on
/// one core, unless the wasm is the one it last optimised. A hash, since cargo may bring back an
/// older wasm (features switched back) with its old timestamp.
pub fn start() -> Result<Started> {
    let weights = weights()?;
    tools::ensure_web_tools()?;
    run(&mut cargo(&[
        "build",
        "--profile",
        WEB_PROFILE,
        "--target",
        "wasm32-unknown-unknown",
        "--package",
        "xai-app",
    ]))?;
    let wasm = target_dir().join("wasm32-unknown-unknown").join(WEB_PROFILE).join("xai-app.wasm");
    constructors_run_once(&wasm)?;
    let out = app_dir();
    let source = sha256(&wasm)?;
    if out.join(APP_WASM).exists() && std::fs::read_to_string(stamp()).is_ok_and(|built_from| built_from == source) {
        eprintln!("xtask: the page's wasm is up to date");
        return Ok(Started { weights, optimising: None });
    }
    // Gone until wasm-opt is done, so that an interrupted run is never taken for a finished one.
    let _ = std::fs::remove_file(stamp());
    let bound = target_dir().join("site-bindgen");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", "xai-app", "--out-dir"])
        .arg(&bound)
        .arg(&wasm))?;
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::copy(bound.join("xai-app.js"), out.join("xai-app.js")).map_err(|e| e.to_string())?;
    let wasm_opt = spawn(
        Command::new(tools::wasm_opt()).arg("-Oz").arg("--output").arg(out.join(APP_WASM)).arg(bound.join(APP_WASM)),
    )?;
    Ok(Started { weights, optimising: Some(Optimising { wasm_opt, source }) })
}

impl Started {
    /// Waits for wasm-opt, then lays out `dist/`.
    pub fn finish(self) -> Result {
        if let Some(Optimising { mut wasm_opt, source }) = self.optimising {
            let status = wasm_opt.wait().map_err(|e| format!("wasm-opt: {e}"))?;
            if !status.success() {
                return Err(format!("wasm-opt failed ({status})"));
            }
            std::fs::write(stamp(), source).map_err(|e| format!("{}: {e}", stamp().display()))?;
        }
        let dist = root().join("dist");
        // Made anew each time, so nothing stale (a file since removed from web/) stays in it.
        if dist.exists() {
            std::fs::remove_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
        }
        let copy = |from: &Path, to: &Path| -> Result {
            std::fs::create_dir_all(to.parent().expect("inside dist")).map_err(|e| e.to_string())?;
            std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))
        };
        for entry in std::fs::read_dir(root().join("web")).map_err(|e| e.to_string())? {
            let from = entry.map_err(|e| e.to_string())?.path();
            copy(&from, &dist.join(from.file_name().expect("a file")))?;
        }
        for file in ["xai-app.js", APP_WASM] {
            copy(&app_dir().join(file), &dist.join(file))?;
        }
        copy(&self.weights.join("resnet50-int8.safetensors"), &dist.join("resnet50-int8.safetensors"))?;
        // ImageNet's WordNet IDs, which the page fetches for an audited folder named by them.
        copy(&root().join("crates/audit/src/imagenet_wnids.txt"), &dist.join("imagenet_wnids.txt"))?;
        for photo in DEMO_PHOTOS {
            let name = format!("{photo}.png");
            copy(&root().join("tests/fixtures/images").join(&name), &dist.join("demo").join(name))?;
        }
        within_budget(&dist.join(APP_WASM))
    }
}

/// Where the bound and optimised app is kept between builds.
fn app_dir() -> PathBuf {
    target_dir().join("site")
}

/// The hash of the wasm that the optimised one in [`app_dir`] was made from.
fn stamp() -> PathBuf {
    app_dir().join("source-wasm.sha256")
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
