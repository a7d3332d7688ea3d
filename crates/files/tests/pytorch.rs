//! The `.pth` reader on files `torch.save` wrote (`tests/fixtures/pickles.py`): every
//! floating-point tensor, views included, as torch holds it, and what must be refused.

use xai_files::pytorch::{read_pth, ReadError};
use xai_fixtures::torch_archive as archive;

fn fixture(name: &str) -> Vec<u8> {
    let dir = xai_fixtures::repo().join("tests/fixtures");
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn tensors_match_torch() {
    let expected: serde_json::Value = serde_json::from_slice(&fixture("pickles.json")).unwrap();
    for (file, tensors) in expected.as_object().unwrap() {
        let state = read_pth(&fixture(&format!("pickles/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}")).state;
        let tensors = tensors.as_object().unwrap();
        let mut names: Vec<_> = state.keys().collect();
        names.sort();
        let mut wanted: Vec<_> = tensors.keys().collect();
        wanted.sort();
        assert_eq!(names, wanted, "{file}");
        for (name, tensor) in tensors {
            let shape: Vec<usize> = serde_json::from_value(tensor["shape"].clone()).unwrap();
            let values: Vec<f64> = serde_json::from_value(tensor["values"].clone()).unwrap();
            assert_eq!(state[name].shape, shape, "{file}: {name}");
            let read: Vec<f64> = state[name].values.iter().map(|v| f64::from(*v)).collect();
            // Exact up to f32 (float64 tensors are narrowed).
            let narrowed: Vec<f64> = values.iter().map(|v| f64::from(*v as f32)).collect();
            assert_eq!(read, narrowed, "{file}: {name}");
        }
    }
}

#[test]
fn a_class_beside_the_weights_is_stepped_over() {
    // {"args": argparse.Namespace(lr=0.1), "w": state_dict.pth's conv.weight}, as a training
    // script saves its arguments beside the weights: never built, the weights still read.
    let state = read_pth(&fixture("pickles/namespace.pth")).unwrap().state;
    let weights = read_pth(&fixture("pickles/state_dict.pth")).unwrap().state;
    assert_eq!(state.keys().collect::<Vec<_>>(), ["w"]);
    assert_eq!(
        (&state["w"].shape, &state["w"].values),
        (&weights["conv.weight"].shape, &weights["conv.weight"].values)
    );
}

#[test]
fn the_format_before_pytorch_1_6_is_named() {
    assert!(matches!(read_pth(&fixture("pickles/legacy.pth")), Err(ReadError::Legacy)));
}

#[test]
fn damage_anywhere_is_an_error() {
    let whole = fixture("pickles/state_dict.pth");
    // Every truncation, and a byte flipped at every 7th position.
    for end in 0..whole.len() {
        let _ = read_pth(&whole[..end]);
    }
    for at in (0..whole.len()).step_by(7) {
        let mut bytes = whole.clone();
        bytes[at] ^= 0x5a;
        let _ = read_pth(&bytes);
    }
    assert!(read_pth(&whole[..whole.len() / 2]).is_err());
}

#[test]
fn a_view_that_repeats_its_storage_is_refused_without_allocating_it() {
    // torch.zeros(1).expand(2 ** 40): 4 TB of floats from a 4-byte storage.
    let error = read_pth(&fixture("pickles/expanded.pth")).unwrap_err().to_string();
    assert!(error.contains("more elements than the file has bytes"), "{error}");
}

/// `{'w': tensor}` over storage '0', with the storage length and shape the pickle declares.
fn one_tensor_pickle(declared: i32, rows: i32) -> Vec<u8> {
    let int = |v: i32| [&b"J"[..], &v.to_le_bytes()].concat();
    [
        &b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"[..],
        &int(declared),
        b"tQK\x00",
        &int(rows),
        b"K\x03\x86K\x03K\x01\x86\x89tRs.",
    ]
    .concat()
}

#[test]
fn a_tensor_larger_than_its_storage_is_refused_without_allocating_it() {
    let six_floats = [0u8; 24];
    let fine = read_pth(&archive(&one_tensor_pickle(6, 2), &[("0", &six_floats)])).unwrap();
    assert_eq!(fine.state["w"].shape, [2, 3]);
    // Declares 8 GB of floats over 24 bytes: refused by reading at most the file's size.
    let huge = archive(&one_tensor_pickle(i32::MAX, i32::MAX / 3), &[("0", &six_floats)]);
    let error = read_pth(&huge).unwrap_err().to_string();
    assert!(error.contains("reaches past its storage"), "{error}");
    let missing = read_pth(&archive(&one_tensor_pickle(6, 2), &[])).unwrap_err().to_string();
    assert!(error.contains("tensor 'w'") && missing.contains("data/0"), "{missing}");
}

#[test]
fn weights_of_a_type_not_read_are_named_with_what_to_do() {
    // As torch writes a quantized tensor's storage, and a float8 one's (its type given apart).
    let pickle = one_tensor_pickle(6, 2);
    let at = pickle.windows(19).position(|w| w == b"torch\nFloatStorage\n").unwrap();
    for (storage, named) in
        [(&b"torch\nQInt8Storage\n"[..], "torch.QInt8Storage"), (b"torch.storage\nUntypedStorage\n", "float8")]
    {
        let other = [&pickle[..at], storage, &pickle[at + 19..]].concat();
        let error = read_pth(&archive(&other, &[("0", &[0u8; 6])])).unwrap_err().to_string();
        assert!(error.contains(named) && error.contains("model.float()"), "{error}");
    }
}
