//! A class-names file: text or JSON.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = xai_files::Labels::from_file_bytes(bytes);
});
