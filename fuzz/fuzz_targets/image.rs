//! Photos: the header checks, then the decode they allow.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = xai_files::photo::decode_image(bytes);
});
