//! Installs the tools the web build and its tests need, from the package registries only, and
//! skips each one already there: the wasm target, wasm-bindgen-cli at the version the app locks,
//! Debian's Chromium (and Firefox ESR and WebKitGTK for the smoke runs), Mesa's Vulkan
//! driver (lavapipe, for `--backend wgpu` without a GPU), the e2e tests' npm packages
//! (playwright-core, puppeteer-core, binaryen's wasm-opt), cargo-fuzz, and for `cargo xtask bench`
//! only, onnxruntime-web.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, run, Result};

const WASM_BINDGEN: &str = "0.2.130";
const CARGO_FUZZ: &str = "0.13.2";
pub const CHROMIUM: &str = "/usr/bin/chromium";

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `cargo install` with a quicker profile: these are tools, not what we ship or measure.
fn cargo_install(args: &[&str]) -> Result {
    run(Command::new("cargo")
        .arg("install")
        .args(args)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .env_remove("CARGO_TARGET_DIR"))
}

pub fn e2e_dir() -> PathBuf {
    root().join("tests/e2e")
}

/// binaryen's wasm-opt from npm: Debian's is too old for burn's wasm.
pub fn wasm_opt() -> PathBuf {
    e2e_dir().join("node_modules/.bin/wasm-opt")
}

pub fn ensure_web_tools() -> Result {
    if !output("rustup", &["target", "list", "--installed"]).contains("wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    if !output("wasm-bindgen", &["--version"]).contains(WASM_BINDGEN) {
        cargo_install(&["wasm-bindgen-cli", "--version", WASM_BINDGEN, "--force"])?;
    }
    let packages = ["node_modules/.bin/wasm-opt", "node_modules/playwright-core", "node_modules/puppeteer-core"];
    if !packages.iter().all(|package| e2e_dir().join(package).exists()) {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(e2e_dir()))?;
    }
    Ok(())
}

/// cargo-fuzz, for the fuzz step of `cargo xtask test`.
pub fn ensure_cargo_fuzz() -> Result {
    if !output("cargo", &["fuzz", "--version"]).contains("cargo-fuzz") {
        cargo_install(&["cargo-fuzz", "--locked", "--version", CARGO_FUZZ])?;
    }
    Ok(())
}

/// The browser benchmark's peer, onnxruntime-web, in bench/web.
pub fn ensure_bench_packages() -> Result<PathBuf> {
    let dir = root().join("bench/web");
    if !dir.join("node_modules/onnxruntime-web").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))?;
    }
    Ok(dir)
}

/// Installs Debian packages unless `marker` (a file one of them provides) is there.
fn ensure_debian(marker: &str, packages: &[&str]) -> Result {
    if std::path::Path::new(marker).exists() {
        return Ok(());
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

pub fn ensure_chromium() -> Result {
    ensure_debian(CHROMIUM, &["chromium"])
}

/// The smoke runs' other engines: Firefox ESR, and WebKitGTK (Safari's engine) with its
/// WebDriver and a virtual display.
pub fn ensure_other_engines() -> Result {
    ensure_debian("/usr/bin/firefox-esr", &["firefox-esr"])?;
    ensure_debian("/usr/bin/WebKitWebDriver", &["webkit2gtk-driver", "libwebkit2gtk-4.1-0"])?;
    ensure_debian("/usr/bin/Xvfb", &["xvfb"])
}

pub fn ensure_vulkan() -> Result {
    ensure_debian("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", &["mesa-vulkan-drivers", "libvulkan1"])
}

/// A private XDG_RUNTIME_DIR: wgpu warns without one.
pub fn runtime_dir() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join("xai-lens-runtime");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    Ok(dir)
}
