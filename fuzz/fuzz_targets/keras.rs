//! Keras' npm package: its tar stream as it is and gzipped (as npm serves it), then the TF.js
//! model inside (the manifest and its shards).
#![no_main]
use xai_files::{keras, npm};

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    for package in [npm::read_tar(bytes), npm::read_tarball(bytes)].into_iter().flatten() {
        let _ = keras::import_tfjs(&package.model_files);
    }
});
