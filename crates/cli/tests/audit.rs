//! `xai audit` on a folder made of the fixture photos in the ImageFolder layout, with mistakes,
//! a file that is not an image, a broken JPEG, a folder naming no class and one nested too deep;
//! the classes with two photos get the concepts they share.

mod common;

use std::path::{Path, PathBuf};

use common::{fixtures, stderr, stdout, weights, xai};
use serde_json::Value;

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xai-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let photo = |name: &str| fixtures().join(format!("images/{name}.png"));
    let put = |path: &str, from: &Path| {
        let to = dir.join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    put("Egyptian_cat/chelsea.png", &photo("chelsea"));
    // ImageNet's own folders are named by WordNet ID: n07920052 is espresso.
    put("n07920052/coffee.png", &photo("coffee"));
    // Mistakes: chelsea is an Egyptian cat to the network, not a tabby; the rocket no espresso.
    put("tabby/chelsea.png", &photo("chelsea"));
    put("espresso/rocket.png", &photo("rocket"));
    // A name that reorders itself on screen: "astrognp.naut".
    put("my photos/astro\u{202e}naut.png", &photo("astronaut"));
    put("astronaut.png", &photo("astronaut"));
    put("Egyptian_cat/deeper/chelsea.png", &photo("chelsea"));
    std::fs::write(dir.join("espresso/notes.txt"), "not a photo").unwrap();
    let jpeg = std::fs::read(fixtures().join("images/chelsea.png")).unwrap();
    std::fs::write(dir.join("espresso/broken.png"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    // What macOS leaves on a drive it does not own: hidden, and not even counted.
    std::fs::write(dir.join("tabby/._chelsea.png"), b"\0\x05\x16\x07").unwrap();
    dir
}

fn audit(dir: &Path, more: &[&str]) -> std::process::Output {
    // A report of its own per folder: the tests run side by side.
    let out = dir.with_extension("html").display().to_string();
    let (weights, dir) = (weights("int8"), dir.display().to_string());
    xai(&[&["audit", &dir, "--weights", weights.to_str().unwrap(), "--out", &out, "--batch", "3"][..], more].concat())
}

#[test]
fn a_folder_is_counted_scored_and_reported_with_its_bad_files() {
    let dir = folder();
    let output = audit(&dir, &["--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let photos: Vec<Value> = stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let paths: Vec<&str> = photos.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "Egyptian_cat/chelsea.png",
            "astronaut.png",
            "espresso/broken.png",
            "espresso/rocket.png",
            "my photos/astro\u{202e}naut.png",
            "n07920052/coffee.png",
            "tabby/chelsea.png",
        ]
    );
    let errors: Vec<&str> =
        photos.iter().filter_map(|p| p["path"].as_str().filter(|_| p.get("error").is_some())).collect();
    assert_eq!(errors, ["espresso/broken.png"]);
    assert!(photos[1].get("truth").is_none() && photos[4].get("truth").is_none(), "no class in their folder");
    assert_eq!(photos[5]["truth"], 967, "espresso, by its WordNet ID");
    assert_eq!(photos[0]["top5"][0]["label"], "Egyptian_cat");
    assert_eq!(photos[0]["top5"].as_array().unwrap().len(), 5);
    // Where it looked, from the same pass: Grad-CAM's 7 x 7 map, its peak and spread.
    let map = &photos[0]["map"];
    assert_eq!(map["values"].as_array().unwrap().len(), 49, "{map}");
    assert!(map["area"].as_f64().unwrap() > 0.0 && map["peak"].as_array().unwrap().len() == 2, "{map}");
    // Progress went to stderr as plain lines (not a terminal), batch by batch.
    assert!(stderr(&output).contains("audit: 7/7 photos"), "{}", stderr(&output));

    let output = audit(&dir, &[]);
    let summary = stdout(&output);
    assert!(summary.contains("7 photos (4 with a true class), 1 not classified"), "{summary}");
    assert!(summary.contains("accuracy 50.0%"), "{summary}");
    assert!(summary.contains("confused: tabby taken for Egyptian_cat (1 photo)"), "{summary}");
    let unread = summary.lines().find(|l| l.starts_with("not classified: espresso/broken.png: ")).unwrap();
    assert!(!unread.contains(&*dir.to_string_lossy()), "said as the page says it, by its path in the folder: {unread}");
    assert!(summary.contains("note: 1 file not named as photos (.jpg, "), "{summary}");
    assert!(summary.contains("left out, such as 'espresso/notes.txt'"), "{summary}");
    assert!(summary.contains("folder 'my photos' names no class"), "{summary}");
    assert!(summary.contains("folder 'Egyptian_cat/deeper' is deeper than class/photo"), "{summary}");
    // Two photos taken for an Egyptian cat (chelsea in two folders), two for whatever the
    // astronaut is: each pair factorised into the concepts it shares.
    let shares: Vec<&str> = summary.lines().filter(|l| l.contains(" shares: ")).collect();
    assert_eq!(shares.len(), 2, "{summary}");
    // Three concepts each, by share and two classes: "[43%] Egyptian_cat 72%, tabby 17%; ...".
    assert!(shares[0].starts_with("Egyptian_cat shares: [") && shares[0].matches("; [").count() == 2, "{summary}");
    assert_eq!(shares[0].matches('%').count(), 9, "{summary}");
    let html_path = summary.lines().last().unwrap().trim_start_matches("report: ");
    let html = std::fs::read_to_string(html_path).unwrap();
    assert!(html.contains("Accuracy 50.0%") && html.contains("data:image/png;base64,"), "overlays inline");
    assert!(html.contains("What the photos of each class share"), "concepts in the report");
    // The JSON gives a script the exact name; the report, for people, escapes it.
    assert!(html.contains("my photos/astro\\u{202e}naut.png") && !html.contains('\u{202e}'), "escaped in the report");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_folder_with_nothing_to_classify_and_a_missing_one_are_errors() {
    let dir = std::env::temp_dir().join(format!("xai-audit-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.with_extension("html"));
    let output = audit(&dir, &[]);
    assert!(!output.status.success() && stderr(&output).contains("no photos in it"), "{}", stderr(&output));
    // Its only photo cannot be read: the report says so, and the run fails.
    std::fs::write(dir.join("broken.png"), b"not a png").unwrap();
    let output = audit(&dir, &[]);
    let said = stderr(&output);
    assert!(!output.status.success() && said.contains("none of the photos could be classified"), "{said}");
    assert!(dir.with_extension("html").exists(), "the report is written");
    std::fs::remove_file(dir.with_extension("html")).unwrap();
    // A name with two spaces is said by its name in the folder all the same, and the report
    // written into the folder is none of its files when the audit runs again.
    std::fs::write(dir.join("empty  twice.png"), b"").unwrap();
    let (weights, inside) = (weights("int8").display().to_string(), dir.join("audit.html").display().to_string());
    for _ in 0..2 {
        let output = xai(&["audit", &dir.display().to_string(), "--weights", &weights, "--out", &inside]);
        let summary = stdout(&output);
        assert!(summary.contains("not classified: empty  twice.png: the file is empty\n"), "{summary}");
        assert!(!summary.contains("not named as photos"), "{summary}");
    }
    let output = audit(&dir.join("absent"), &[]);
    assert!(!output.status.success());
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Ctrl-C stops the audit after the batch in hand: the report keeps the photos classified by
/// then and says so, and the exit status is a shell's for Ctrl-C.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_audit_with_the_report_of_what_was_done() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = std::env::temp_dir().join(format!("xai-audit-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("Egyptian_cat")).unwrap();
    for i in 0..40 {
        std::fs::copy(fixtures().join("images/chelsea.png"), dir.join(format!("Egyptian_cat/{i}.png"))).unwrap();
    }
    let out = dir.with_extension("html");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["audit", dir.to_str().unwrap(), "--json", "--batch", "1", "--out", out.to_str().unwrap()])
        .args(["--weights", weights("int8").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut photos = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    photos.read_line(&mut first).unwrap();
    assert!(first.contains("Egyptian_cat/0.png"), "{first}");
    let interrupt = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(interrupt.success());
    let mut rest = String::new();
    photos.read_to_string(&mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    let classified = 1 + rest.lines().count();
    assert!(classified < 40, "the audit went on to the end");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let said = format!("stopped by Ctrl-C after {classified} of 40 photos");
    assert!(stderr(&output).contains(&said), "{}", stderr(&output));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains(&format!(", {classified} with a true class from their folder")), "{html}");
    assert!(html.contains(&said));
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_file(out).unwrap();
}
