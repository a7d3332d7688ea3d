//! A share link's fragment, with the photo it carries.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(fragment) = std::str::from_utf8(bytes) {
        let _ = xai_share::Shared::from_fragment(fragment);
    }
});
