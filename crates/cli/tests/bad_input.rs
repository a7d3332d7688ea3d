//! Bad input gives a non-zero exit and one line on stderr naming the file and the problem.

mod common;

use std::path::{Path, PathBuf};

use common::{weights, xai};

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xai-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The address space `xai` gets for one bad input: the weights and the network, not what a
/// hostile file claims.
const BOUND_MB: u64 = 3000;

/// Each part of an error line ("xai: what: why") said once: an error that names its cause
/// and also chains it must not print the cause twice.
fn said_once(line: &str) {
    let parts: Vec<&str> = line.trim_end().split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(part), "'{part}' said twice: {line}");
    }
}

/// Runs `xai classify` and returns its single stderr line, checking the exit code.
fn classify_error(image: &Path, weights: &Path) -> String {
    let args = ["classify", &image.display().to_string(), "--weights", &weights.display().to_string()];
    let output = common::xai_within(BOUND_MB, &args);
    assert!(!output.status.success(), "expected failure for {}", image.display());
    assert!(output.stdout.is_empty());
    let stderr = common::stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    said_once(&stderr);
    stderr
}

fn chelsea() -> PathBuf {
    common::fixtures().join("images/chelsea.png")
}

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut bytes = (data.len() as u32).to_be_bytes().to_vec();
    bytes.extend(kind);
    bytes.extend(data);
    bytes.extend(crc.sum().to_be_bytes());
    bytes
}

/// A greyscale PNG of the given size, whole (its rows are zeros, so it is small), with `extra`
/// chunks before its pixels.
fn grey_png(width: u32, height: u32, extra: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    let mut pixels = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; width as usize + 1];
    for _ in 0..height {
        pixels.write_all(&row).unwrap();
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(extra);
    png.extend(png_chunk(b"IDAT", &pixels.finish().unwrap()));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// An ICC profile chunk whose compressed profile inflates to `bytes` of zeros.
fn icc_chunk(bytes: usize) -> Vec<u8> {
    use std::io::Write;
    let mut profile = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1 << 20];
    for _ in 0..bytes >> 20 {
        profile.write_all(&block).unwrap();
    }
    let mut data = b"icc\0\0".to_vec();
    data.extend(profile.finish().unwrap());
    png_chunk(b"iCCP", &data)
}

fn jpeg_of_chelsea() -> Vec<u8> {
    let image = image::open(chelsea()).unwrap();
    let mut jpeg = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    jpeg
}

#[test]
fn bad_images_are_refused_with_a_clear_line() {
    let weights = weights("int8");
    let png = std::fs::read(chelsea()).unwrap();
    let mut tiny = Vec::new();
    image::RgbImage::new(1, 1).write_to(&mut std::io::Cursor::new(&mut tiny), image::ImageFormat::Png).unwrap();
    let jpeg = jpeg_of_chelsea();
    // An end-of-image marker early on (inside a metadata segment) passes the check for a cut
    // JPEG; the decoder's own message about it ends in a newline.
    let small = {
        let mut bytes = Vec::new();
        let image = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 90]));
        image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg).unwrap();
        bytes
    };
    let marker_early = [&small[..2], b"\xff\xe1\x00\x06\xff\xd9\x00\x00", &small[2..small.len() / 2]].concat();
    let cases: [(&str, Vec<u8>, &str); 11] = [
        ("empty.png", vec![], "empty"),
        ("notes.jpg", b"shopping list: milk, eggs\n".to_vec(), "not a supported image"),
        ("truncated.png", png[..png.len() / 3].to_vec(), "truncated or corrupt"),
        ("tiny.png", tiny, "1x1"),
        ("huge.png", grey_png(10_000, 10_000, &[]), "limit is 40 megapixels"),
        // Thin strips pass the pixel limit; their resize would not fit in memory.
        ("thin.png", grey_png(8, 5_000_000, &[]), "too large to decode"),
        ("wide.png", grey_png(300_000, 8, &[]), "too large to decode"),
        ("strip.png", grey_png(16, 4_000, &[]), "at most 16 times the other"),
        ("half.jpg", jpeg[..jpeg.len() / 2].to_vec(), "truncated"),
        ("headers-only.jpg", jpeg[..700].to_vec(), "truncated"),
        ("marker-early.jpg", marker_early, "Jpeg"),
    ];
    for (name, bytes, expected) in cases {
        let path = scratch(name, &bytes);
        let line = classify_error(&path, &weights);
        assert!(line.contains(name) && line.contains(expected), "{name}: {line}");
    }
    // An ICC profile that inflates past the decoder's 400 MB bound is dropped, and the photo
    // explained within the same memory.
    let icc = scratch("icc.png", &grey_png(64, 64, &icc_chunk(600 << 20))).display().to_string();
    let output = common::xai_within(BOUND_MB, &["classify", &icc, "--weights", &weights.display().to_string()]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    // Devices and pipes are refused by type, before any read (a FIFO would block forever).
    let fifo = std::env::temp_dir().join(format!("xai-bad-input-fifo-{}", std::process::id()));
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for special in [Path::new("/dev/zero"), Path::new("/dev/null"), &fifo] {
        let line = classify_error(special, &weights);
        assert!(line.contains("not a regular file"), "{}: {line}", special.display());
    }
    std::fs::remove_file(fifo).unwrap();
    let missing = classify_error(Path::new("no-such-photo.png"), &weights);
    assert!(missing.contains("no-such-photo.png"), "{missing}");
}

#[test]
fn one_bad_image_does_not_stop_the_others() {
    let empty = scratch("also-empty.png", &[]).display().to_string();
    let (chelsea, weights) = (chelsea().display().to_string(), weights("int8").display().to_string());
    let output = xai(&["classify", &empty, &chelsea, "--weights", &weights]);
    assert!(!output.status.success());
    assert!(common::stdout(&output).contains("Egyptian_cat"));
    assert_eq!(common::stderr(&output).lines().count(), 1);
    // eval too: the good photo's row and the mean over the photos scored, the bad one named.
    let output = xai(&["eval", &chelsea, &empty, "--metric", "drop", "--weights", &weights]);
    assert!(!output.status.success());
    let stdout = common::stdout(&output);
    let row = |name: &str| {
        stdout.lines().find(|l| l.starts_with(name)).map(|l| l.split_whitespace().last().unwrap().to_string())
    };
    assert_eq!(row("chelsea.png"), row("mean"), "{stdout}");
    let stderr = common::stderr(&output);
    assert!(stderr.contains("also-empty.png") && stderr.lines().count() == 1, "{stderr}");
    // explain too: the good photo's overlay is written, the bad one named.
    let out = std::env::temp_dir().join(format!("xai-bad-input-{}/overlays", std::process::id()));
    let out_dir = out.display().to_string();
    let output = xai(&["explain", &empty, &chelsea, "--out-dir", &out_dir, "--weights", &weights]);
    assert!(!output.status.success());
    assert!(out.join("chelsea-gradcam-layer4.png").exists(), "{}", common::stdout(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("also-empty.png") && stderr.lines().count() == 1, "{stderr}");
}

#[test]
fn a_closed_pipe_ends_xai_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (chelsea, weights) = (chelsea().display().to_string(), weights("int8").display().to_string());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["classify", &chelsea, &chelsea, "--weights", &weights])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line, as `xai classify *.jpg | head -0` does.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.stderr.is_empty(), "{}", common::stderr(&output));
    const SIGPIPE: i32 = 13;
    assert_eq!(output.status.signal(), Some(SIGPIPE), "{:?}", output.status);
}

#[test]
fn explain_refuses_overlays_that_would_overwrite_each_other() {
    let (chelsea, weights) = (chelsea().display().to_string(), weights("int8").display().to_string());
    let out = std::env::temp_dir().join(format!("xai-bad-input-{}/one.png", std::process::id()));
    let one = out.display().to_string();
    for (args, expected) in [
        (vec!["explain", &chelsea, "--method", "all", "--out", &one], "give --out-dir"),
        (vec!["explain", &chelsea, &chelsea, "--out", &one], "give --out-dir"),
        (vec!["explain", &chelsea, &chelsea], "would both write chelsea-gradcam-layer4.png"),
    ] {
        let mut args = args;
        args.extend(["--weights", &weights]);
        let output = xai(&args);
        let stderr = common::stderr(&output);
        assert!(!output.status.success() && stderr.lines().count() == 1 && stderr.contains(expected), "{stderr}");
        assert!(output.stdout.is_empty() && !out.exists(), "{args:?} wrote an overlay");
    }
}

#[test]
fn truncated_weights_are_refused() {
    let bytes = std::fs::read(weights("int8")).unwrap();
    let truncated = scratch("truncated.safetensors", &bytes[..bytes.len() / 2]);
    let line = classify_error(&chelsea(), &truncated);
    assert!(line.contains("truncated.safetensors") && line.contains("truncated or corrupt"), "{line}");
}

#[test]
fn weights_with_a_wrong_shape_are_refused() {
    use safetensors::tensor::TensorView;
    let bytes = std::fs::read(weights("int8")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    // Same bytes (so the checksum still holds), one bias reshaped from [64] to [8, 8].
    let tensors = file.tensors().into_iter().map(|(name, view)| {
        let shape = if name == "conv1.bias" { vec![8, 8] } else { view.shape().to_vec() };
        (name, TensorView::new(view.dtype(), shape, view.data()).unwrap())
    });
    let reshaped = safetensors::serialize(tensors, header.metadata().clone()).unwrap();
    let path = scratch("reshaped.safetensors", &reshaped);
    let line = classify_error(&chelsea(), &path);
    assert!(line.contains("reshaped.safetensors") && line.contains("conv1.bias") && line.contains("[8, 8]"), "{line}");
}

#[test]
fn mistakes_in_paths_are_caught_before_any_work() {
    let photo = chelsea().display().to_string();
    let weights = weights("int8").display().to_string();
    let under_a_file = chelsea().join("report.html").display().to_string();
    let jpeg_out = std::env::temp_dir().join(format!("xai-overlay-{}.jpg", std::process::id()));
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["explain", &photo, "--out", jpeg_out.to_str().unwrap()], "name it .png"),
        (vec!["explain", &photo, "--out-dir", &photo], "is a file, not a folder"),
        (vec!["audit", ".", "--out", &under_a_file], "cannot make the folder"),
        (vec!["audit", ".", "--out", "report.png"], "name it .html"),
        (vec!["dff", &photo, "--nmf", "gpu"], "give --backend wgpu"),
    ];
    for (args, expected) in cases {
        let output = xai(&[&args[..], &["--weights", &weights]].concat());
        let stderr = common::stderr(&output);
        assert!(!output.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert!(!jpeg_out.exists(), "nothing written");
    // An output's folder is made as the command line is read: one refused after it is taken back.
    let made = std::env::temp_dir().join(format!("xai-made-{}", std::process::id()));
    let report = made.join("reports/audit.html").display().to_string();
    let output = xai(&["audit", ".", "--out", &report, "--batch", "0", "--weights", &weights]);
    assert_eq!(output.status.code(), Some(2), "{}", common::stderr(&output));
    assert!(!made.exists(), "the folder made for the report is gone");
    // A model file not converted yet is named as such, with the command that converts it.
    let dir = std::env::temp_dir().join(format!("xai-unconverted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pth = xai_fixtures::rebuild("resnet18", "resnet18.pth", &dir);
    let line = classify_error(&chelsea(), &pth);
    assert!(line.contains("not converted yet: run `xai convert "), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn outputs_that_would_overwrite_what_a_run_reads_are_refused() {
    let dir = std::env::temp_dir().join(format!("xai-clash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(chelsea()).unwrap();
    let photo = dir.join("cat.png");
    std::fs::write(&photo, &bytes).unwrap();
    // A photo named as the overlay another photo of the run would write.
    std::fs::write(dir.join("cat-gradcam-layer4.png"), &bytes).unwrap();
    let model = dir.join("model.safetensors");
    std::fs::write(&model, b"a model").unwrap();
    // The weights a run reads are its input too (a copy: the check might fail).
    let weights = dir.join("weights.safetensors");
    std::fs::copy(common::weights("int8"), &weights).unwrap();
    let weights_bytes = std::fs::metadata(&weights).unwrap().len();
    // The same weights by another name, as a report would be named.
    std::fs::hard_link(&weights, dir.join("weights.html")).unwrap();
    std::fs::create_dir_all(dir.join("keras")).unwrap();
    let at = |name: &str| dir.join(name).display().to_string();
    let cases: [Vec<String>; 7] = [
        vec!["convert".into(), at("model.safetensors"), "-o".into(), at("./model.safetensors")],
        vec!["convert".into(), at("keras"), "-o".into(), at("keras/model.json")],
        vec!["audit".into(), dir.display().to_string(), "-o".into(), at("weights.html")],
        vec!["explain".into(), at("cat.png"), "--out".into(), at("cat.png")],
        vec!["explain".into(), at("cat.png"), at("cat-gradcam-layer4.png"), "--out-dir".into(), at(".")],
        vec![
            "explain".into(),
            at("cat.png"),
            "--out-dir".into(),
            at("maps"),
            "--sheet".into(),
            at("maps/cat-gradcam-layer4.png"),
        ],
        vec!["dff".into(), at("cat.png"), "-o".into(), at("cat.png")],
    ];
    for args in cases {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        if args[0] != "convert" {
            args.extend(["--weights", weights.to_str().unwrap()]);
        }
        let output = xai(&args);
        let stderr = common::stderr(&output);
        assert!(!output.status.success() && stderr.contains("would overwrite"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert_eq!(std::fs::read(&photo).unwrap(), bytes, "the photo is untouched");
    assert_eq!(std::fs::read(&model).unwrap(), b"a model");
    assert!(!dir.join("maps/cat-gradcam-layer4.png").exists());
    assert_eq!(std::fs::metadata(&weights).unwrap().len(), weights_bytes);
    // Overlays are checked too before the work: a folder that cannot be made.
    let output =
        xai(&["explain", &at("cat.png"), "--out-dir", "/proc/xai-maps", "--weights", weights.to_str().unwrap()]);
    assert!(common::stderr(&output).contains("cannot make the folder"), "{}", common::stderr(&output));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_options_name_the_valid_values() {
    let output = xai(&["classify", "x.png", "--backend", "cuda"]);
    assert!(!output.status.success());
    assert!(common::stderr(&output).contains("flex"));
    let output = xai(&["classify", "x.png", "--input-size", "100"]);
    assert!(common::stderr(&output).contains("multiple of 32"));
    let output = xai(&["dff", "x.png", "--iters", "0"]);
    assert!(!output.status.success() && common::stderr(&output).contains("--iters"), "{}", common::stderr(&output));
    // Usage errors, all of them: exit status 2, as clap gives, before anything is read.
    for (args, expected) in [
        (&["explain", "x.png", "--method", "gradkam"][..], "or all"),
        (&["dff", "x.png", "-k", "17"], "1 to 16"),
        (&["dff", "x.png", "--json", "--out", "x.png"], "--json"),
        (&["eval", "x.png", "--json", "--metric", "road"], "--json"),
        (&["explain", "x.png", "--json", "--colormap", "turbo"], "--json"),
        (&["bench", "--runs", "0"], "--runs"),
        (&["convert", "x.pth", "-o", "y.safetensors", "--mean", "0,0,0", "--std", "-1,1,1"], "from 0.01 to 1"),
        (&["convert", "x.pth", "-o", "y.safetensors", "--mean", "128,128,128", "--std", "64,64,64"], "divide"),
        (&["convert", "x.pth", "-o", "y.safetensors", "--mean", "0,0,0", "--std", "1e-45,1e-45,1e-45"], "0.01"),
    ] {
        let output = xai(args);
        let stderr = common::stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    // An output that is a named pipe nothing reads is refused (opening it waited for ever).
    let fifo = std::env::temp_dir().join(format!("xai-out-fifo-{}.html", std::process::id()));
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let output = xai(&["audit", "x", "-o", fifo.to_str().unwrap()]);
    std::fs::remove_file(fifo).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("a named pipe that nothing reads"), "{}", common::stderr(&output));
}

#[test]
fn more_concepts_than_positions_are_refused() {
    let weights = weights("int8").display().to_string();
    // At 64 px one photo's layer4 has 2 x 2 positions.
    let photo = chelsea().display().to_string();
    let output = xai(&["dff", &photo, "-k", "5", "--input-size", "64", "--json", "--weights", &weights]);
    let stderr = common::stderr(&output);
    assert!(!output.status.success() && stderr.contains("k = 5 concepts from 4 positions"), "{stderr}");
}

#[test]
fn a_file_name_that_is_not_utf8_is_named_as_well_as_it_can_be() {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"cat\xff\x1b[31m.png");
    let path = std::env::temp_dir().join(format!("xai-names-{}", std::process::id())).join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(chelsea(), &path).unwrap();
    let weights = weights("int8").display().to_string();
    let classify = |json: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xai"));
        command.arg("classify").arg(&path).arg(chelsea()).args(json).args(["--weights", &weights]);
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", common::stderr(&output));
        common::stdout(&output)
    };
    let json = classify(&["--json"]);
    let line: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    // The byte that is not UTF-8 is named, not lost: '\u{fffd}' would make many names one.
    assert!(line["image"].as_str().unwrap().ends_with("cat\\xFF\u{1b}[31m.png"), "{line}");
    // On a terminal the escape is shown, not obeyed.
    let text = classify(&[]);
    assert!(text.lines().next().unwrap().ends_with("cat\\xFF\\u{1b}[31m.png"), "{text}");
    // Two such names in one folder are two photos of the audit, each with its own path, as
    // classify gives it (the report escapes it).
    let dir = path.parent().unwrap();
    std::fs::copy(chelsea(), dir.join(std::ffi::OsStr::from_bytes(b"cat\xfe.png"))).unwrap();
    let report = dir.with_extension("html");
    let output =
        xai(&["audit", dir.to_str().unwrap(), "--json", "--out", report.to_str().unwrap(), "--weights", &weights]);
    let paths: Vec<String> = common::stdout(&output)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["cat\\xFE.png", "cat\\xFF\u{1b}[31m.png"]);
    let _ = std::fs::remove_file(report);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `xai convert` and returns its single stderr line, checking the exit code.
fn convert_error(source: &Path, extra: &[&str]) -> String {
    let out = source.with_extension("converted.safetensors").display().to_string();
    let mut args = vec!["convert", source.to_str().unwrap(), "-o", &out];
    args.extend(extra);
    let output = common::xai_within(BOUND_MB, &args);
    assert!(!output.status.success(), "expected failure for {}", source.display());
    let stderr = common::stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    said_once(&stderr);
    stderr
}

/// A safetensors state dict of zeros with these (name, shape) tensors.
fn state_dict(tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors.iter().map(|(_, shape)| vec![0u8; 4 * shape.iter().product::<usize>()]).collect();
    let views = tensors.iter().zip(&data).map(|((name, shape), bytes)| {
        (
            name.to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.to_vec(), bytes).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

/// A gzipped npm-style tarball whose one weight shard is `size` zero bytes: 12 GB fit in 12 MB.
/// The deflate stream repeats one compressed 16 MiB piece (each piece ends on a byte, after a
/// sync flush, and refers only to itself), so it is made in a moment.
fn tarball_of_zeros(size: u64) -> Vec<u8> {
    use std::io::Write;
    const PIECE: u64 = 16 << 20;
    assert_eq!(size % PIECE, 0);
    let deflate = |bytes: &[u8]| {
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.flush().unwrap();
        encoder.get_ref().clone()
    };
    let mut header = tar::Header::new_gnu();
    header.set_path("package/ResNet50/group1-shard1of1.bin").unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    // The entry, then the two empty blocks that end an archive.
    let (zeros, end) = (vec![0u8; PIECE as usize], vec![0u8; 1024]);
    let mut crc = flate2::Crc::new();
    crc.update(header.as_bytes());
    let mut piece_crc = flate2::Crc::new();
    piece_crc.update(&zeros);
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend(deflate(header.as_bytes()));
    let piece = deflate(&zeros);
    for _ in 0..size / PIECE {
        gz.extend(&piece);
        crc.combine(&piece_crc);
    }
    gz.extend(deflate(&end));
    crc.update(&end);
    // An empty final block, then the trailer.
    gz.extend([3, 0]);
    gz.extend(crc.sum().to_le_bytes());
    gz.extend(crc.amount().to_le_bytes());
    gz
}

/// A pickle that calls `os.system`, as a malicious checkpoint would.
const CALLS_OS_SYSTEM: &[u8] = b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo owned\x85q\x01Rq\x02.";

#[test]
fn bad_model_files_are_refused_by_convert() {
    let dir = std::env::temp_dir().join(format!("xai-bad-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pth = xai_fixtures::rebuild("resnet18", "resnet18.pth", &dir);
    let bytes = std::fs::read(&pth).unwrap();
    let labels = scratch("three-labels.txt", b"cat\ndog\nbird\n");
    let bomb = dir.join("bomb.tgz");
    std::fs::write(&bomb, tarball_of_zeros(12 << 30)).unwrap();
    let cases: [(PathBuf, Vec<&str>, &str); 9] = [
        (bomb, vec![], "inflates to over 1000 MB"),
        (common::fixtures().join("pickles/expanded.pth"), vec![], "repeats its storage's elements"),
        (scratch("half.pth", &bytes[..bytes.len() / 2]), vec![], "not a readable PyTorch file"),
        (scratch("owned.pth", &xai_fixtures::torch_archive(CALLS_OS_SYSTEM, &[])), vec![], "never runs code"),
        (pth.clone(), vec!["--labels", labels.to_str().unwrap()], "3 class names for a head of 7 classes"),
        (pth.clone(), vec!["--arch", "resnet50"], "holds a resnet18, not the resnet50"),
        (
            scratch(
                "vgg.safetensors",
                &state_dict(&[("features.0.weight", &[64, 3, 3, 3]), ("classifier.6.weight", &[10, 4096])]),
            ),
            vec![],
            "looks like a VGG",
        ),
        (
            scratch(
                "headless.safetensors",
                &state_dict(&[
                    ("conv1.weight", &[64, 3, 7, 7]),
                    ("layer1.0.conv1.weight", &[64, 64, 3, 3]),
                    ("fc.weight", &[0, 512]),
                ]),
            ),
            vec![],
            "0 classes",
        ),
        (chelsea(), vec![], "not a model file xai-lens reads"),
    ];
    for (source, extra, expected) in cases {
        let line = convert_error(&source, &extra);
        assert!(line.contains(expected), "{}: {line}", source.display());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A Keras model directory is read by its `model.json`: only the shards it names, each a file
/// beside it, so a directory given by mistake costs nothing.
#[test]
fn a_keras_directory_is_read_by_its_manifest_alone() {
    let dir = std::env::temp_dir().join(format!("xai-keras-directory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 5 GB (sparse) beside no model.json.
    std::fs::File::create(dir.join("film.mp4")).unwrap().set_len(5 << 30).unwrap();
    assert!(convert_error(&dir, &[]).contains("model.json: No such file"));
    let manifest = |shard: &str| format!(r#"{{"weightsManifest": [{{"paths": ["{shard}"], "weights": []}}]}}"#);
    std::fs::write(dir.join("model.json"), manifest("../outside.bin")).unwrap();
    assert!(convert_error(&dir, &[]).contains("'../outside.bin' as a weight shard: not a file beside it"));
    std::fs::write(dir.join("model.json"), manifest("film.mp4")).unwrap();
    assert!(convert_error(&dir, &[]).contains("over 256 MB, more than a weight shard may hold"));
    // Shards within the ceiling one by one but not together.
    for shard in ["a.bin", "b.bin"] {
        std::fs::File::create(dir.join(shard)).unwrap().set_len(200 << 20).unwrap();
    }
    let two = r#"{"weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": []}]}"#;
    std::fs::write(dir.join("model.json"), two).unwrap();
    assert!(convert_error(&dir, &[]).contains("the model's files are over 256 MB together"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn class_names_from_a_labels_file_are_printed_with_control_characters_escaped() {
    let dir = std::env::temp_dir().join(format!("xai-escaped-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pth = xai_fixtures::rebuild("resnet18", "resnet18.pth", &dir);
    let names = ["cat\u{1b}[2J", "coffee\nforged line", "rocket", "astronaut", "dog", "bicycle", "tree"];
    let labels = scratch("escape-labels.json", serde_json::to_string(&names).unwrap().as_bytes());
    let weights = dir.join("escaped.safetensors");
    let output =
        xai(&["convert", pth.to_str().unwrap(), "--labels", labels.to_str().unwrap(), "-o", weights.to_str().unwrap()]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let output = xai(&["classify", chelsea().to_str().unwrap(), "--weights", weights.to_str().unwrap(), "--top", "2"]);
    let printed = common::stdout(&output);
    assert!(!printed.contains('\u{1b}') && printed.lines().count() == 2, "{printed:?}");
    assert!(printed.contains("cat\\u{1b}[2J") && printed.contains("coffee\\nforged line"), "{printed}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "wgpu")]
#[test]
fn a_missing_gpu_is_reported_at_once() {
    let started = std::time::Instant::now();
    // The Vulkan and GL drivers hidden, as on a machine without them.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["classify", chelsea().to_str().unwrap(), "--backend", "wgpu"])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    println!("reported after {:.2} s", started.elapsed().as_secs_f64());
    assert!(!output.status.success());
    let stderr = common::stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no GPU") && stderr.contains("use --backend flex"), "{stderr}");
}

#[test]
fn eigencam_of_a_large_crop_takes_memory_in_proportion_to_it() {
    // layer1 of a 1024-pixel crop has 65,536 positions: a Gram matrix over them would be 17 GB.
    let out = std::env::temp_dir().join(format!("xai-eigencam-{}.png", std::process::id()));
    let (photo, weights) = (chelsea().display().to_string(), weights("int8").display().to_string());
    let args = ["explain", &photo, "--input-size", "1024", "--layer", "layer1", "--method", "eigencam"];
    let output =
        common::xai_within(BOUND_MB, &[&args[..], &["-o", out.to_str().unwrap(), "--weights", &weights]].concat());
    assert!(output.status.success(), "{}", common::stderr(&output));
    std::fs::remove_file(out).unwrap();
}

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(["classify", chelsea().to_str().unwrap(), "--weights", weights("int8").to_str().unwrap()])
        .stdout(full())
        .output()
        .unwrap();
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("xai: failed printing to stdout: No space left") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
