//! The xai-lens web app (built by Trunk from the repository's `index.html`). The browser is its
//! only real target; natively only the state (plain Rust) is built, for its tests.

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
mod jobs;
#[cfg(target_arch = "wasm32")]
mod photo;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]
mod state;
#[cfg(target_arch = "wasm32")]
mod store;

#[cfg(target_arch = "wasm32")]
fn main() {
    // A panic must never leave a blank or silent page: show it where errors go. Installed
    // through yew, which would otherwise replace any hook set before it renders.
    yew::set_custom_panic_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let document = web_sys::window().and_then(|w| w.document());
        if let Some(element) = document.and_then(|d| d.query_selector("[data-testid=error]").ok().flatten()) {
            element.set_text_content(Some(&format!(
                "Something broke inside the app ({info}). Reload the page to start again."
            )));
            let _ = element.remove_attribute("hidden");
        }
    }));
    // The benchmark page (bench/web) loads this module only for `bench::bench_forward`.
    let document = web_sys::window().and_then(|w| w.document());
    if document.is_some_and(|d| d.get_element_by_id("bench").is_some()) {
        return;
    }
    yew::Renderer::<app::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
