//! The own-model fixtures, made whole: `tests/fixtures/torchvision_models.py` saved torchvision
//! ResNets as users save them and committed each file with its convolution kernels cut out
//! (they come from a seeded formula); this puts the formula's bytes back.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::fixtures;

pub fn dir() -> PathBuf {
    fixtures().join("torchvision")
}

/// The fixtures' reference outputs and the manifest of what each skeleton lacks.
pub fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("reference.json")).expect("reference.json")).unwrap()
}

fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0x811c_9dc5u64, |h, b| ((h ^ u64::from(b)) * 0x0100_0193) & 0xffff_ffff)
}

/// A convolution kernel from its name, bit for bit as the Python script makes it: integers in
/// [-1000, 1000] from a hash of (name, index), times sqrt(3 / fan_in) / 1000, in f32.
pub fn formula(name: &str, shape: &[usize]) -> Vec<f32> {
    let count: usize = shape.iter().product();
    let fan_in: usize = shape[1..].iter().product();
    let scale = (3.0f32 / fan_in as f32).sqrt();
    let seed = fnv1a(name);
    (0..count as u64)
        .map(|i| {
            let mut x = (seed + i * 2_654_435_761) & 0xffff_ffff;
            x ^= x >> 15;
            x = (x * 2_246_822_519) & 0xffff_ffff;
            x ^= x >> 13;
            let v = (x % 2001) as i64 - 1000;
            (v as f32 / 1000.0) * scale
        })
        .collect()
}

fn formula_bytes(model: &Value, name: &str) -> Vec<u8> {
    let shape: Vec<usize> = model["formula_shapes"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no formula shape for {name}"))
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    formula(name, &shape).iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `file` of `arch` (e.g. `resnet18.pth`) whole into `out`, and returns its path.
pub fn rebuild(arch: &str, file: &str, out: &Path) -> PathBuf {
    let reference = reference();
    let model = &reference["models"][arch];
    let manifest = &model["files"][file];
    let skeleton = std::fs::read(dir().join(format!("{file}.skeleton"))).unwrap();
    let bytes = if file.ends_with(".safetensors") {
        safetensors(model, manifest, &skeleton)
    } else {
        zip(model, manifest, &skeleton)
    };
    let path = out.join(file);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The torch.save archive with each emptied storage filled from the formula.
fn zip(model: &Value, manifest: &Value, skeleton: &[u8]) -> Vec<u8> {
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(skeleton)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..source.len() {
        let mut entry = source.by_index(i).unwrap();
        let name = entry.name().expect("a UTF-8 entry name").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if let Some(cut) = manifest.get(&name) {
            data = formula_bytes(model, cut["name"].as_str().unwrap());
            assert_eq!(data.len() as u64, cut["bytes"].as_u64().unwrap(), "{name}");
        }
        out.start_file(name, stored).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The safetensors file with each cut tensor's bytes put back in data order.
fn safetensors(model: &Value, manifest: &Value, skeleton: &[u8]) -> Vec<u8> {
    let header_len = u64::from_le_bytes(skeleton[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&skeleton[8..8 + header_len]).unwrap();
    let cut: Vec<&str> = manifest["cut"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    let mut tensors: Vec<(&String, &Value)> =
        header.as_object().unwrap().iter().filter(|(k, _)| *k != "__metadata__").collect();
    tensors.sort_by_key(|(_, info)| info["data_offsets"][0].as_u64().unwrap());
    let mut out = skeleton[..8 + header_len].to_vec();
    let mut kept = &skeleton[8 + header_len..];
    for (name, info) in tensors {
        let len = (info["data_offsets"][1].as_u64().unwrap() - info["data_offsets"][0].as_u64().unwrap()) as usize;
        if cut.contains(&name.as_str()) {
            out.extend(formula_bytes(model, name));
        } else {
            out.extend(&kept[..len]);
            kept = &kept[len..];
        }
    }
    out
}
