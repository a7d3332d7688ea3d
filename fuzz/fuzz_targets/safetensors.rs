//! A `.safetensors` state dict, and the torchvision import over what it holds.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(state) = xai_files::pytorch::read_safetensors(bytes) {
        let _ = xai_files::torchvision::import_state_dict(&state, None);
    }
});
