//! `cargo xtask build`: the static site in `dist/`. The page's files as they are (`web/`), the
//! app's wasm with its JavaScript glue (wasm-bindgen, then wasm-opt for size), the int8 weights
//! (class names inside) and the demo photos. No bundler: that is all one takes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run, sha256, target_dir, tools, weights, Result};

/// The cargo profile of the page's wasm (see Cargo.toml).
const WEB_PROFILE: &str = "web";

/// The photos the page offers (the app's `photo::DEMOS`), from the test fixtures.
const DEMO_PHOTOS: [&str; 4] = ["chelsea", "coffee", "rocket", "astronaut"];

/// What a visitor downloads before the page can show anything: the wasm, gzipped as a server
/// sends it, may weigh at most 3 MiB (issue 16's budget).
const WASM_BUDGET_GZIP: usize = 3 << 20;

pub fn build() -> Result {
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
    let app = bind_and_optimise(&wasm)?;

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
    for file in ["xai-app.js", "xai-app_bg.wasm"] {
        copy(&app.join(file), &dist.join(file))?;
    }
    copy(&weights.join("resnet50-int8.safetensors"), &dist.join("resnet50-int8.safetensors"))?;
    for photo in DEMO_PHOTOS {
        let name = format!("{photo}.png");
        copy(&root().join("tests/fixtures/images").join(&name), &dist.join("demo").join(name))?;
    }
    within_budget(&dist.join("xai-app_bg.wasm"))
}

/// The app's wasm and glue (`xai-app_bg.wasm`, `xai-app.js`, which `web/boot.js` imports), made
/// in the target dir and kept there: wasm-opt takes minutes, so it runs again only when the wasm
/// changed. A hash, since cargo may bring back an older wasm (features switched back) with its
/// old timestamp.
fn bind_and_optimise(wasm: &Path) -> Result<PathBuf> {
    let out = target_dir().join("site");
    let stamp = out.join("source-wasm.sha256");
    let source = sha256(wasm)?;
    let optimised = out.join("xai-app_bg.wasm");
    if optimised.exists() && std::fs::read_to_string(&stamp).is_ok_and(|built_from| built_from == source) {
        eprintln!("xtask: the page's wasm is up to date");
        return Ok(out);
    }
    let bound = target_dir().join("site-bindgen");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", "xai-app", "--out-dir"])
        .arg(&bound)
        .arg(wasm))?;
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    std::fs::copy(bound.join("xai-app.js"), out.join("xai-app.js")).map_err(|e| e.to_string())?;
    run(Command::new(tools::wasm_opt()).arg("-Oz").arg("--output").arg(&optimised).arg(bound.join("xai-app_bg.wasm")))?;
    std::fs::write(&stamp, source).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(out)
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
