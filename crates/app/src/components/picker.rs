//! Choosing a photo: the bundled demos, a file picker, and paste anywhere on the page (drops
//! are taken by the whole page, see `app`).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, FileList, HtmlInputElement};
use yew::prelude::*;

use crate::photo::DEMOS;

#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// False until the model is ready.
    pub enabled: bool,
    pub on_demo: Callback<&'static str>,
    pub on_files: Callback<FileList>,
}

#[function_component(PhotoPicker)]
pub fn photo_picker(props: &PickerProps) -> Html {
    {
        let on_files = props.on_files.clone();
        use_effect_with((), move |_| {
            let listener = Closure::<dyn Fn(ClipboardEvent)>::new(move |event: ClipboardEvent| {
                if let Some(files) = event.clipboard_data().and_then(|d| d.files()).filter(|f| f.length() > 0) {
                    on_files.emit(files);
                }
            });
            let window = web_sys::window().expect("a page has a window");
            let _ = window.add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
            move || {
                let _ = window.remove_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
            }
        });
    }
    let on_upload = {
        let on_files = props.on_files.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                on_files.emit(files);
            }
            input.set_value("");
        })
    };
    html! {
        <section class="pick panel" aria-labelledby="pick-title">
            <h2 id="pick-title">{ "1. Choose a photo" }</h2>
            <div class="demos">
                { for DEMOS.iter().map(|&name| {
                    let on_demo = props.on_demo.clone();
                    html! {
                        <button data-testid={format!("demo-{name}")} onclick={move |_| on_demo.emit(name)} disabled={!props.enabled}>
                            <img src={format!("demo/{name}.png")} alt="" width="56" height="56"/>
                            <span>{ name }</span>
                        </button>
                    }
                }) }
            </div>
            <label class="upload">
                <span>{ "…or your own: pick a file, drop it on the page, or paste it." }</span>
                <input data-testid="upload" type="file" accept="image/*" onchange={on_upload} disabled={!props.enabled}/>
            </label>
        </section>
    }
}
