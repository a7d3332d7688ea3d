//! A `.safetensors` state dict, and the torchvision import over what it holds (under
//! transformers' names, or as a Sequential of a ResNet's children, too): the network, the
//! normalisation saved with it, the tensors it leaves out.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    if let Ok(state) = xai_files::pytorch::read_safetensors(bytes) {
        let (state, _) = xai_files::torchvision::from_hugging_face(state);
        let Ok(state) = xai_files::torchvision::from_children(state) else { return };
        if let Ok(params) = xai_files::torchvision::import_state_dict(&state, None) {
            let _ = xai_files::torchvision::left_out(&state, &params.architecture);
        }
        let _ = xai_files::torchvision::normalization(&state);
    }
});
