//! Every CAM method and DFF against pytorch-grad-cam 1.5.7 and scikit-learn's NMF on the same
//! weights (f32) and inputs: tests/fixtures/explanations.json, made by
//! tests/fixtures/generate_explanations.py, and maps of a class's probability and of a contrast
//! of two classes: tests/fixtures/targets.json, made by tests/fixtures/generate_targets.py.

mod common;

use common::{fixtures, flatten, pearson, weights, xai};
use serde_json::Value;

fn reference() -> Value {
    fixture("explanations.json")
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(name)).unwrap()).unwrap()
}

#[test]
fn every_method_matches_pytorch_grad_cam() {
    matches_pytorch_grad_cam(&reference());
}

#[test]
fn probability_and_contrast_targets_match_pytorch_grad_cam() {
    matches_pytorch_grad_cam(&fixture("targets.json"));
}

/// Each map of `reference` from `xai explain --json`, by Pearson's r.
fn matches_pytorch_grad_cam(reference: &Value) {
    let weights = weights("f32").display().to_string();
    let mut failures = Vec::new();
    for case in reference["cams"].as_array().unwrap() {
        let image = case["image"].as_str().unwrap();
        let file = fixtures().join(reference["images"][image]["file"].as_str().unwrap());
        let size = image::image_dimensions(&file).unwrap().0.to_string();
        let (method, layer) = (case["method"].as_str().unwrap(), case["layer"].as_str().unwrap());
        let class = case["class"].to_string();
        let file = file.display().to_string();
        let mut args: Vec<&str> = vec![
            "explain",
            &file,
            "--json",
            "--weights",
            &weights,
            "--method",
            method,
            "--layer",
            layer,
            "--class",
            &class,
            "--input-size",
            &size,
        ];
        let options: Vec<&str> = ["eigen_smooth", "aug_smooth"].into_iter().filter(|o| case[o] == true).collect();
        let mut flags: Vec<String> = options.iter().map(|o| format!("--{}", o.replace('_', "-"))).collect();
        let score = &case["score"];
        if score == "probability" {
            flags.push("--probability".into());
        } else if let Some(other) = score.get("versus") {
            flags.extend(["--versus".to_string(), other.to_string()]);
        }
        args.extend(flags.iter().map(String::as_str));
        let output = xai(&args);
        assert!(output.status.success(), "{method} {layer}: {}", common::stderr(&output));
        if ["scorecam", "ablationcam"].contains(&method) {
            // A batch of channels at a time, with the progress (plain lines: not a terminal).
            assert!(common::stderr(&output).contains(" channels, "), "{}", common::stderr(&output));
        }
        let ours: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
        assert_eq!(ours["map_size"], case["map_size"], "{image} {method} {layer}");
        // Full-resolution reference maps keep every `map_stride`-th row and column.
        let stride = case["map_stride"].as_u64().unwrap_or(1) as usize;
        let rows: Vec<Value> = ours["map"]
            .as_array()
            .unwrap()
            .iter()
            .step_by(stride)
            .map(|row| row.as_array().unwrap().iter().step_by(stride).cloned().collect())
            .collect();
        let r = pearson(&flatten(&Value::Array(rows)), &flatten(&case["map"]));
        let name = format!("{image} {method} {layer} {} {}", options.join(" "), flags.join(" "));
        println!("{name:<40} r = {r:.6}");
        if r.is_nan() || r < 0.999 {
            failures.push(format!("{name}: r = {r}"));
        }
    }
    assert!(failures.is_empty(), "below r = 0.999: {failures:?}");
}

#[test]
fn dff_reconstructs_as_well_as_scikit_learn() {
    let weights = weights("f32").display().to_string();
    for case in reference()["dff"].as_array().unwrap() {
        let files: Vec<String> = case["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| fixtures().join(format!("images/{}.png", i.as_str().unwrap())).display().to_string())
            .collect();
        let k = case["k"].to_string();
        let mut args: Vec<&str> = vec!["dff", "--json", "--weights", &weights, "-k", &k];
        args.extend(files.iter().map(String::as_str));
        let output = xai(&args);
        assert!(output.status.success(), "{}", common::stderr(&output));
        let ours: Value = serde_json::from_str(&common::stdout(&output)).unwrap();
        let (error, theirs) = (ours["rel_error"].as_f64().unwrap(), case["rel_error"].as_f64().unwrap());
        println!("dff {:?}: relative error {error:.4} (scikit-learn {theirs:.4})", case["images"]);
        assert!(error <= theirs * 1.02, "{error} vs scikit-learn's {theirs}");
        let shares: f64 = ours["concepts"].as_array().unwrap().iter().map(|c| c["share"].as_f64().unwrap()).sum();
        assert!((shares - 1.0).abs() < 1e-4);
    }
}

#[test]
fn overlays_and_composites_are_written() {
    let dir = std::env::temp_dir().join(format!("xai-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let weights = weights("int8").display().to_string();
    let (chelsea, coffee) = (fixtures().join("images/chelsea.png"), fixtures().join("images/coffee.png"));
    let (chelsea, coffee) = (chelsea.display().to_string(), coffee.display().to_string());
    let cam = dir.join("cam.png").display().to_string();
    let output = xai(&["explain", &chelsea, "--method", "gradcam", "--out", &cam, "--weights", &weights]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert!(common::stdout(&output).contains("Egyptian_cat"));
    assert_eq!(image::image_dimensions(&cam).unwrap(), (224, 224));
    // A larger photo keeps its resolution: the overlay covers the centre square the network saw.
    let large = dir.join("large.png");
    let photo = image::open(&chelsea).unwrap().resize_exact(600, 450, image::imageops::FilterType::Triangle);
    photo.save(&large).unwrap();
    let large_cam = dir.join("large-cam.png").display().to_string();
    let large = large.display().to_string();
    let output = xai(&["explain", &large, "--out", &large_cam, "--weights", &weights]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(image::image_dimensions(&large_cam).unwrap(), (394, 394));

    let composite = dir.join("dff.png").display().to_string();
    let output = xai(&["dff", &chelsea, &coffee, "--out", &composite, "--weights", &weights]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let legend = common::stdout(&output);
    assert_eq!(legend.lines().filter(|l| l.starts_with("concept")).count(), 5, "{legend}");
    assert!(legend.contains("Egyptian_cat") && legend.contains("espresso"), "{legend}");
    // Progress went to stderr as a plain line (not a terminal).
    assert!(common::stderr(&output).contains("dff: 2/2 photos"), "{}", common::stderr(&output));
    // The two composites side by side, and the legend drawn under them: five lines of dark text
    // (the canvas widens to fit them).
    let png = image::open(&composite).unwrap().to_rgba8();
    assert!(png.width() >= 448 && png.height() > 224 + 5 * 16, "{:?}", png.dimensions());
    let legend = (224..png.height()).flat_map(|y| (0..png.width()).map(move |x| (x, y)));
    let dark = legend.filter(|&(x, y)| png.get_pixel(x, y).0[..3] == [20, 20, 20]).count();
    assert!(dark > 2_000, "{dark} legend pixels");
}

#[test]
fn explain_writes_every_method_of_every_photo_from_one_pass() {
    let dir = std::env::temp_dir().join(format!("xai-all-{}", std::process::id()));
    let weights = weights("int8").display().to_string();
    let photos = ["chelsea", "coffee"];
    let files: Vec<String> =
        photos.iter().map(|p| fixtures().join(format!("images/{p}.png")).display().to_string()).collect();
    let methods = ["gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam", "cam"];
    let (out_dir, sheet) = (dir.display().to_string(), dir.join("sheet.png").display().to_string());
    let both = ["--method", "all", "--out-dir", &out_dir, "--sheet", &sheet, "--weights", &weights];
    let output = xai(&[&["explain", &files[0], &files[1]][..], &both].concat());
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(common::stdout(&output).lines().count(), photos.len() * methods.len() + 1);
    let overlay = |photo: &str, method: &str| image::open(dir.join(format!("{photo}-{method}-layer4.png"))).unwrap();
    // The sheet: a header of 8 + 22 + 8 pixels with the methods' names, then per photo its label
    // (22) over a row of 224-pixel cells 8 apart, the overlays as written one by one.
    let sheet = image::open(&sheet).unwrap().to_rgba8();
    assert_eq!(sheet.dimensions(), (8 + 7 * 232, 38 + 2 * 254));
    let cell = |sheet: &image::RgbaImage, row: u32, column: u32| {
        image::imageops::crop_imm(sheet, 8 + 232 * column, 38 + 254 * row + 22, 224, 224).to_image()
    };
    for (p, photo) in photos.iter().enumerate() {
        for (m, method) in methods.iter().enumerate() {
            let png = overlay(photo, method).to_rgba8();
            assert_eq!(png.dimensions(), (224, 224), "{photo} {method}");
            assert!(cell(&sheet, p as u32, m as u32) == png, "{photo} {method}: its cell in the sheet");
        }
    }
    let ink = |y: std::ops::Range<u32>| {
        let pixels = y.flat_map(|y| (0..sheet.width()).map(move |x| (x, y)));
        pixels.filter(|&(x, y)| sheet.get_pixel(x, y).0[..3] == [20, 20, 20]).count()
    };
    assert!(ink(0..38) > 1_000 && ink(38..60) > 500, "the methods' names and the first photo's label");
    // Without --out-dir, the sheet alone: here one method's column, the same overlays.
    let alone = dir.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["explain", &files[0], &files[1], "--sheet", "gradcam.png", "--weights", &weights])
        .current_dir(&alone)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(std::fs::read_dir(&alone).unwrap().count(), 1, "nothing but the sheet written");
    let column = image::open(alone.join("gradcam.png")).unwrap().to_rgba8();
    for (p, photo) in photos.iter().enumerate() {
        assert!(cell(&column, p as u32, 0) == overlay(photo, "gradcam").to_rgba8(), "{photo}");
    }
    // Photo by photo, method by method, each line is the map the method gives alone.
    let output = xai(&["explain", &files[0], &files[1], "--method", "all", "--json", "--weights", &weights]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let lines: Vec<Value> = common::stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let named: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["image"].as_str().unwrap(), l["method"].as_str().unwrap())).collect();
    let expected: Vec<(&str, &str)> =
        files.iter().flat_map(|f| methods.iter().map(move |m| (f.as_str(), *m))).collect();
    assert_eq!(named, expected);
    for (file, method) in [(&files[0], "gradcam++"), (&files[1], "layercam")] {
        let line = lines.iter().find(|l| l["image"] == file.as_str() && l["method"] == method).unwrap();
        let alone = xai(&["explain", file, "--method", method, "--json", "--weights", &weights]);
        let alone: Value = serde_json::from_slice(&alone.stdout).unwrap();
        assert_eq!(alone["class"], line["class"], "{file} {method}");
        let r = pearson(&flatten(&alone["map"]), &flatten(&line["map"]));
        assert!(r >= 0.9999, "{file} {method}: r = {r}");
    }
}

#[test]
fn bad_explanation_options_name_the_valid_values() {
    let chelsea = fixtures().join("images/chelsea.png").display().to_string();
    let weights = weights("int8").display().to_string();
    for (args, expected) in [
        (vec!["explain", &chelsea, "--method", "nope"], "valid: gradcam, gradcam++"),
        (vec!["explain", &chelsea, "--layer", "layer9"], "valid: layer1, layer2, layer3, layer4"),
        (vec!["explain", &chelsea, "--class", "1000"], "valid: 0 to 999"),
        (vec!["explain", &chelsea, "--method", "cam", "--layer", "layer3"], "the last layer only, layer4 here"),
        (vec!["dff", &chelsea, "-k", "40"], "valid: 1 to 16"),
    ] {
        let mut args = args;
        args.extend(["--weights", &weights]);
        let output = xai(&args);
        let stderr = common::stderr(&output);
        assert!(
            output.status.code() == Some(2) && stderr.lines().count() == 1 && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn eval_scores_every_method_from_one_pass_as_evidence() {
    let weights = weights("int8").display().to_string();
    let coffee = fixtures().join("images/coffee.png").display().to_string();
    let output = xai(&["eval", &coffee, "--method", "all", "--json", "--weights", &weights]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let lines: Vec<Value> = common::stdout(&output).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let methods: Vec<&str> = lines.iter().map(|l| l["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam", "cam"]);
    // At layer4 HiResCAM, XGradCAM and CAM are Grad-CAM's map up to a factor: scored once.
    for like in [2, 3, 6] {
        assert_eq!(lines[like]["scores"], lines[0]["scores"], "{}", methods[like]);
    }
    assert_ne!(lines[1]["scores"], lines[0]["scores"]);
    // The same source file converted to f32 is told apart from its int8 copy.
    let f32_weights = common::weights("f32").display().to_string();
    let f32_output = xai(&["eval", &coffee, "--method", "gradcam", "--json", "--weights", &f32_weights]);
    let f32_line: Value = serde_json::from_slice(&f32_output.stdout).unwrap();
    assert_eq!((lines[0]["precision"].as_str(), f32_line["precision"].as_str()), (Some("int8"), Some("f32")));
    assert_eq!(f32_line["model_sha256"], lines[0]["model_sha256"]);
    assert!(lines[0]["weights_checksum"].as_str().unwrap().starts_with("sha256:"));
    assert_ne!(f32_line["weights_checksum"], lines[0]["weights_checksum"]);
    for line in &lines {
        let method = line["method"].as_str().unwrap();
        assert_eq!((line["class"].as_u64(), line["label"].as_str()), (Some(967), Some("espresso")), "{method}");
        assert_eq!(line["model_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(
            (&line["precision"], &line["weights_checksum"]),
            (&lines[0]["precision"], &lines[0]["weights_checksum"])
        );
        assert_eq!(line["photo_sha256"], lines[0]["photo_sha256"]);
        // The shared pass gives each method's own map.
        let alone = xai(&["explain", &coffee, "--method", method, "--json", "--weights", &weights]);
        let alone: Value = serde_json::from_slice(&alone.stdout).unwrap();
        let r = pearson(
            &flatten(&alone["map"]),
            &line["map"]["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>(),
        );
        println!("{method}: r = {r:.6} against the method alone; scores {}", line["scores"]);
        assert!(r >= 0.9999, "{method}: r = {r}");
        let scores = &line["scores"];
        assert!((0.0..=100.0).contains(&scores["drop"].as_f64().unwrap()), "{method}: {scores}");
        // Deleting the most salient pixels first must hurt more than inserting them first, and
        // imputing them must lower the probability more than imputing the least salient.
        assert!(
            scores["insertion"].as_f64().unwrap() > scores["deletion"].as_f64().unwrap() + 0.2,
            "{method}: {scores}"
        );
        assert!(scores["road"]["combined"].as_f64().unwrap() > 0.0, "{method}: {scores}");
    }
    // One metric asked for scores only the images it reads, to the same value.
    for (metric, score) in [
        ("deletion", &lines[0]["scores"]["deletion"]),
        ("road-least", &lines[0]["scores"]["road"]["least_relevant_first"]),
    ] {
        let output = xai(&["eval", &coffee, "--metric", metric, "--weights", &weights]);
        let stdout = common::stdout(&output);
        let row = stdout.lines().find(|l| l.starts_with("coffee.png")).expect("the photo's row");
        let value: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
        assert!((value - score.as_f64().unwrap()).abs() < 1e-3, "{metric}: {value} against {score}");
    }
}
