//! The xai-lens web app (`cargo xtask build` puts it in the site beside `web/index.html`). The
//! browser is its only real target; natively only the state (plain Rust) is built, for its tests.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod canvas;
#[cfg(target_arch = "wasm32")]
mod components;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod convert;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod folder;
#[cfg(target_arch = "wasm32")]
mod jobs;
#[cfg(target_arch = "wasm32")]
mod photo;
#[cfg(target_arch = "wasm32")]
mod report;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]
mod state;
#[cfg(target_arch = "wasm32")]
mod store;

// The linker's function that runs the module's constructors (pliron, which cubecl builds its
// kernels' IR with, registers its dialects through `inventory`'s).
#[cfg(target_arch = "wasm32")]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // Once, here. A module that never calls them itself is linked as a command, with every call
    // from JavaScript into the wasm (each event, each resolved promise) running all constructors
    // again first: about a quarter of the page's time from a click to its heatmap on the CPU.
    // SAFETY: this is the module's start, before any code that reads what the constructors
    // register; they run once.
    unsafe { __wasm_call_ctors() };
    // Installed through yew, which would otherwise replace any hook set before it renders.
    yew::set_custom_panic_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        report_panic(&info.to_string());
    }));
    report_traps();
    // The benchmark page (bench/web) loads this module only for its `bench` exports.
    let document = web_sys::window().and_then(|w| w.document());
    if document.is_some_and(|d| d.get_element_by_id("bench").is_some()) {
        return;
    }
    yew::Renderer::<app::App>::new().render();
}

/// A trap in the wasm (a `WebAssembly.RuntimeError`, which no panic hook sees) ends the task it
/// happened in, and the page would wait for that task for good: it is reported as a panic is.
/// WebKitGTK 2.50's JIT traps "Out of bounds memory access" in about one load in 300 (one in six
/// before the weights were hashed with sha2's compact rounds: docs/architecture.md).
#[cfg(target_arch = "wasm32")]
fn report_traps() {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(window) = web_sys::window() else { return };
    let on_error = Closure::<dyn Fn(web_sys::ErrorEvent)>::new(|event: web_sys::ErrorEvent| {
        if event.error().is_instance_of::<js_sys::WebAssembly::RuntimeError>() {
            report_panic(&event.message());
        }
    });
    let _ = window.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    on_error.forget();
}

/// A panic must never leave a blank or silent page: its message goes where errors go, with a
/// button that reloads the page (the app's state after a panic cannot be trusted).
#[cfg(target_arch = "wasm32")]
fn report_panic(message: &str) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let element = document.query_selector("[data-testid=error]").ok().flatten().or_else(|| {
        // Before the app has rendered there is no error element yet.
        let element = document.create_element("div").ok()?;
        element.set_attribute("data-testid", "error").ok()?;
        element.set_attribute("role", "alert").ok()?;
        document.body()?.prepend_with_node_1(&element).ok()?;
        Some(element)
    });
    let Some(element) = element else { return };
    element.set_text_content(Some(&format!("Something broke inside the app ({message}). ")));
    let _ = element.remove_attribute("hidden");
    if let Ok(button) = document.create_element("button") {
        button.set_text_content(Some("Reload the page"));
        let _ = button.set_attribute("data-testid", "reload");
        let reload = wasm_bindgen::closure::Closure::once_into_js(|| {
            let _ = web_sys::window().map(|w| w.location().reload());
        });
        let _ = button.add_event_listener_with_callback("click", reload.unchecked_ref());
        let _ = element.append_child(&button);
    }
}

/// Panics on purpose, so that what a visitor sees when the app breaks can be checked (the e2e
/// test calls it, as anyone can from the console).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn break_on_purpose() {
    panic!("broken on purpose, to show how a panic is reported");
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
