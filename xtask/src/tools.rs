//! Installs the tools the web build and its tests need, from the package registries only, and
//! skips each one already there: the wasm target, wasm-bindgen-cli at the version the app locks,
//! Debian's browsers and Mesa's Vulkan driver (`TEST_PACKAGES`), the e2e tests' npm packages
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

/// Debian packages, each with a file it provides: they are installed where that file is missing.
type Debian = (&'static str, &'static [&'static str]);

const CHROMIUM_PACKAGES: Debian = (CHROMIUM, &["chromium"]);

/// What `cargo xtask test` needs from Debian: Mesa's Vulkan driver (lavapipe) for the wgpu tests,
/// Chromium for the e2e tests, and for the smoke runs Firefox ESR, WebKitGTK (Safari's engine)
/// with its WebDriver, and a virtual display.
const TEST_PACKAGES: [Debian; 5] = [
    ("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", &["mesa-vulkan-drivers", "libvulkan1"]),
    CHROMIUM_PACKAGES,
    ("/usr/bin/firefox-esr", &["firefox-esr"]),
    ("/usr/bin/WebKitWebDriver", &["webkit2gtk-driver", "libwebkit2gtk-4.1-0"]),
    ("/usr/bin/Xvfb", &["xvfb"]),
];

/// Installs the packages whose file is missing, with one `apt-get update` for all of them.
fn ensure_debian(wanted: &[Debian]) -> Result {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(marker, _)| !std::path::Path::new(marker).exists())
        .flat_map(|(_, packages)| packages.iter().copied())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

pub fn ensure_chromium() -> Result {
    ensure_debian(&[CHROMIUM_PACKAGES])
}

pub fn ensure_test_packages() -> Result {
    ensure_debian(&TEST_PACKAGES)
}

/// A private XDG_RUNTIME_DIR: wgpu warns without one.
pub fn runtime_dir() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join("xai-lens-runtime");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    Ok(dir)
}
