//! The sanity checks' measures against `tests/fixtures/sanity.json` (`generate_sanity.py`):
//! scipy's Spearman rank correlation and scikit-image's SSIM of pairs of fixed maps, each seen
//! as the page shows it (resized to 224 x 224, scaled to [0, 1]).

use serde_json::Value;
use xai_explain::similarity::Similarity;
use xai_explain::Map;

fn map(side: &Value) -> Map {
    let size: Vec<usize> = side["map_size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let values = side["map"].as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap());
    Map::new(size[0], size[1], values.map(|v| v.as_f64().unwrap() as f32).collect())
}

#[test]
fn spearman_and_ssim_match_scipy_and_scikit_image() {
    let path = xai_fixtures::repo().join("tests/fixtures/sanity.json");
    let fixture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let side = fixture["side"].as_u64().unwrap() as usize;
    for case in fixture["cases"].as_array().unwrap() {
        let name = |s: &Value| format!("{} {} {}", s["image"], s["method"], s["layer"]).replace('"', "");
        let name = format!("{} vs {}", name(&case["first"]), name(&case["second"]));
        let ours = Similarity::between(&map(&case["first"]), &map(&case["second"]), side);
        let (spearman, ssim) = (case["spearman"].as_f64().unwrap(), case["ssim"].as_f64().unwrap());
        println!("{name:<50} spearman {:.6} ({spearman:.6})  ssim {:.6} ({ssim:.6})", ours.spearman, ours.ssim);
        assert!((f64::from(ours.spearman) - spearman).abs() <= 1e-4, "{name}: spearman");
        assert!((f64::from(ours.ssim) - ssim).abs() <= 1e-4, "{name}: ssim");
    }
}
