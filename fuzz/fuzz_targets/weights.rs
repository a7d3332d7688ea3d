//! Our own weight file, as the page and `--weights` load it.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = xai_files::NetworkParams::from_safetensors(bytes);
});
