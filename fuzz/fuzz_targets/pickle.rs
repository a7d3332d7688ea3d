//! The pickle of a `.pth`, alone: errors are fine, panics and unbounded memory are not.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = xai_files::pickle::read(bytes);
});
