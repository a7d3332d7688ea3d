//! A whole `.pth`: torch.save's zip, its pickle and the tensors' storages.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = xai_files::pytorch::read_pth(bytes);
});
