//! `cargo xtask serve`: builds the site and serves `dist/` on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Component, Path};

use crate::{root, site, Result};

pub fn serve(args: &[String]) -> Result {
    let port = match args {
        [] => 8080,
        [flag, port] if flag == "--port" => port.parse().map_err(|_| format!("bad port '{port}'"))?,
        _ => return Err("usage: cargo xtask serve [--port 8080]".into()),
    };
    site::build()?;
    serve_dir(&root().join("dist"), port)
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
        let header =
            format!("HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", response.0, response.1.len());
        let _ = stream.write_all(header.as_bytes()).and_then(|_| stream.write_all(&response.1));
    }
    Ok(())
}
