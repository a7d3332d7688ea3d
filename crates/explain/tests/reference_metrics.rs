//! The faithfulness metrics against `tests/fixtures/metrics.json` (`generate_metrics.py`):
//! pytorch-grad-cam's drop and increase in confidence and ROAD, and the RISE paper's deletion and
//! insertion, on the same fixed maps, with the real f32 weights against float64 torch.

use std::path::PathBuf;

use serde_json::Value;
use xai_explain::scoring::Scorer;
use xai_explain::Map;
use xai_model::ResNet;

fn repo() -> PathBuf {
    xai_fixtures::repo()
}

/// Within 1e-3, as the reference definitions are compared.
fn close(name: &str, ours: f32, reference: &Value) {
    let reference = reference.as_f64().unwrap();
    println!("{name:<40} ours {ours:>10.6}  reference {reference:>10.6}");
    assert!((f64::from(ours) - reference).abs() <= 1e-3, "{name}: {ours} vs {reference}");
}

#[test]
fn metrics_match_the_reference_definitions() {
    let dir = std::env::var_os("XAI_WEIGHTS_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("weights"));
    let bytes = std::fs::read(dir.join("resnet50-f32.safetensors")).expect("run `cargo xtask weights` first");
    let (net, _) = ResNet::from_safetensors(&bytes, &burn::tensor::Device::flex()).unwrap();
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(repo().join("tests/fixtures/metrics.json")).unwrap()).unwrap();
    let noise = fixture["road_noise"].as_f64().unwrap() as f32;
    for case in fixture["cases"].as_array().unwrap() {
        let name = format!("{} {}", case["image"].as_str().unwrap(), case["method"].as_str().unwrap());
        let photo = image::open(repo().join(format!("tests/fixtures/images/{}.png", case["image"].as_str().unwrap())))
            .unwrap()
            .to_rgb8();
        let input = net.input(&[photo]);
        let class = case["class"].as_u64().unwrap() as usize;
        let size: Vec<usize> =
            case["map_size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let values = case["map"].as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap());
        let map = Map::new(size[0], size[1], values.map(|v| v.as_f64().unwrap() as f32).collect());

        let mut scorer = pollster::block_on(Scorer::with_noise(&net, &input, class, noise)).unwrap();
        let scores = pollster::block_on(scorer.scores("fixture", map)).unwrap();
        let (road, scores) = (scores.road, scores.faithfulness);
        close(
            &format!("{name}: average drop / 100"),
            scores.drop / 100.0,
            &(case["average_drop_percent"].as_f64().unwrap() / 100.0).into(),
        );
        assert_eq!(scores.increase, case["increase_in_confidence"].as_bool().unwrap(), "{name}: increase");
        close(&format!("{name}: deletion"), scores.deletion, &case["deletion"]);
        close(&format!("{name}: insertion"), scores.insertion, &case["insertion"]);
        close(
            &format!("{name}: ROAD most relevant first"),
            road.most_relevant_first,
            &case["road_most_relevant_first"],
        );
        close(
            &format!("{name}: ROAD least relevant first"),
            road.least_relevant_first,
            &case["road_least_relevant_first"],
        );
        close(&format!("{name}: ROAD combined"), road.combined, &case["road_combined"]);
    }
}
