//! `cargo xtask serve`: a static file server on 127.0.0.1. Until the web app lands it serves a
//! placeholder page listing what `xai classify` sees in the demo photos.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::{build_cli, root, target_dir, weights, Result};

pub fn serve(args: &[String]) -> Result {
    let port = match args {
        [] => 8080,
        [flag, port] if flag == "--port" => port.parse().map_err(|_| format!("bad port '{port}'"))?,
        _ => return Err("usage: cargo xtask serve [--port 8080]".into()),
    };
    let site = placeholder_site()?;
    serve_dir(&site, port)
}

/// Classifies the demo photos with the CLI and writes a page showing the results.
fn placeholder_site() -> Result<PathBuf> {
    let weights = weights()?;
    let xai = build_cli()?;
    let site = target_dir().join("placeholder-site");
    std::fs::create_dir_all(&site).map_err(|e| e.to_string())?;
    let demo = root().join("tests/fixtures/images");
    let mut rows = String::new();
    for name in ["chelsea", "coffee", "rocket", "astronaut"] {
        let photo = demo.join(format!("{name}.png"));
        std::fs::copy(&photo, site.join(format!("{name}.png"))).map_err(|e| format!("{}: {e}", photo.display()))?;
        let output = Command::new(&xai)
            .arg("classify")
            .arg(&photo)
            .arg("--weights")
            .arg(weights.join("resnet50-int8.safetensors"))
            .output()
            .map_err(|e| e.to_string())?;
        let top5 = String::from_utf8_lossy(&output.stdout);
        rows.push_str(&format!("<figure><img src=\"{name}.png\" alt=\"demo photo: {name}\"><figcaption><pre>{top5}</pre></figcaption></figure>\n"));
    }
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>xai-lens</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\">\
         <h1>xai-lens</h1><p>What a real ImageNet ResNet-50 (int8 weights) sees in the demo photos. \
         The in-browser app replaces this page.</p>\n{rows}"
    );
    std::fs::write(site.join("index.html"), page).map_err(|e| e.to_string())?;
    Ok(site)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Serves `dir` until interrupted; only plain paths inside it, GET only.
fn serve_dir(dir: &Path, port: u16) -> Result {
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("port {port}: {e}"))?;
    eprintln!("xtask: serving {} on http://127.0.0.1:{port}", dir.display());
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request_line = String::new();
        if BufReader::new(&stream).read_line(&mut request_line).is_err() {
            continue;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let relative = Path::new(path.split(['?', '#']).next().unwrap_or("/").trim_start_matches('/'));
        let safe = relative.components().all(|c| matches!(c, Component::Normal(_)));
        let file = if relative.as_os_str().is_empty() { dir.join("index.html") } else { dir.join(relative) };
        let response = match std::fs::read(&file) {
            Ok(body) if safe => (format!("200 OK\r\nContent-Type: {}", content_type(&file)), body),
            _ => ("404 Not Found\r\nContent-Type: text/plain".to_string(), b"not found".to_vec()),
        };
        let header = format!("HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", response.0, response.1.len());
        let _ = stream.write_all(header.as_bytes()).and_then(|_| stream.write_all(&response.1));
    }
    Ok(())
}
