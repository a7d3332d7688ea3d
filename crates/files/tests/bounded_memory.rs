//! What reading a hostile `.pth` or photo may allocate: bounded by the file, not by what it
//! claims. A counting allocator measures the peak, so this file holds one test (tests run in
//! parallel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use xai_files::photo::decode_image;
use xai_files::pytorch::read_pth;
use xai_fixtures::deflated_torch_archive;

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most `read` allocated at once beyond what was held before.
fn peak_of(read: impl FnOnce()) -> usize {
    let before = NOW.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    read();
    PEAK.load(Ordering::Relaxed) - before
}

/// `{'w0': t0, 'w1': t1, ...}`, each an empty [0, 3] tensor over a storage of its own that
/// declares 2^31 - 1 floats.
fn empty_tensors_pickle(count: usize) -> Vec<u8> {
    let mut pickle = b"\x80\x02}".to_vec();
    for i in 0..count {
        let text = |s: &str| [&b"X"[..], &(s.len() as u32).to_le_bytes(), s.as_bytes()].concat();
        pickle.extend(text(&format!("w{i}")));
        pickle.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        pickle.extend(text("storage"));
        pickle.extend(b"ctorch\nFloatStorage\n");
        pickle.extend(text(&i.to_string()));
        pickle.extend(text("cpu"));
        pickle.push(b'J');
        pickle.extend(i32::MAX.to_le_bytes());
        pickle.extend(b"tQK\x00K\x00K\x03\x86K\x03K\x01\x86\x89tRs");
    }
    pickle.push(b'.');
    pickle
}

#[test]
fn a_small_hostile_file_cannot_take_much_memory() {
    // A pickle of one-byte instructions that each make an empty list: 8 MB of them deflate to
    // 8 KB, and took a gigabyte.
    let lists = deflated_torch_archive(&[&b"\x80\x02"[..], &vec![b']'; 8 << 20], b"."].concat(), &[]);
    let mut error = String::new();
    let peak = peak_of(|| error = read_pth(&lists).unwrap_err().to_string());
    assert!(error.contains("instructions"), "{error}");
    assert!(peak < 200 << 20, "{} KB file, {} MB at the peak", lists.len() >> 10, peak >> 20);

    // Empty tensors over storages of 8 MB of zeros each (8 KB deflated), beside 4 MB of
    // incompressible bytes: each storage was read up to the file's size, whatever its tensors
    // needed.
    let noise: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (names, zeros): (Vec<String>, _) = ((0..50).map(|i| i.to_string()).collect(), vec![0; 8 << 20]);
    let mut storages: Vec<(&str, &[u8])> = names.iter().map(|name| (name.as_str(), &zeros[..])).collect();
    storages.push(("noise", &noise));
    let file = deflated_torch_archive(&empty_tensors_pickle(50), &storages);
    let mut tensors = 0;
    let peak = peak_of(|| tensors = read_pth(&file).unwrap().state.len());
    assert_eq!(tensors, 50);
    assert!(peak < 3 * file.len(), "{} KB file, {} MB at the peak", file.len() >> 10, peak >> 20);

    // An 8 x 8 PNG whose ICC profile is 300 MB of zeros, 0.3 MB deflated: decoding it took
    // 0.8 GB. The photo still decodes; its profile is not needed.
    let mut png = Vec::new();
    let mut encoder = PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::NoFilter);
    encoder.set_icc_profile(vec![0; 300 << 20]).unwrap();
    encoder.write_image(&[0; 8 * 8 * 3], 8, 8, ExtendedColorType::Rgb8).unwrap();
    let mut size = None;
    let peak = peak_of(|| size = decode_image(&png).ok().map(|photo| photo.dimensions()));
    assert_eq!(size, Some((8, 8)));
    assert!(peak < 64 << 20, "{} KB photo, {} MB at the peak", png.len() >> 10, peak >> 20);
}
