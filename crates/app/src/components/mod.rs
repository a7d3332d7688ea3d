//! The page's parts: small function components that take what they show as `Properties` and
//! report what the visitor does through callbacks; the state lives in `crate::state` alone.

pub mod audit;
pub mod compare;
pub mod concepts;
pub mod controls;
pub mod header;
pub mod models;
pub mod picker;
pub mod result;
pub mod sanity;

use web_sys::{FocusOptions, HtmlElement};
use yew::prelude::*;

/// Keeps a keyboard's place as a job starts and ends: its start button is disabled and a Cancel
/// button appears, then the Cancel button goes, and either way the browser would drop the focus
/// on the page's body. It moves to the other button instead (without scrolling to it), unless
/// the visitor has put it somewhere else by then. Returns the start and Cancel buttons' refs.
#[hook]
pub fn use_focus_handoff(running: bool) -> (NodeRef, NodeRef) {
    let (start, cancel) = (use_node_ref(), use_node_ref());
    let before = use_mut_ref(|| running);
    {
        let (start, cancel) = (start.clone(), cancel.clone());
        use_effect_with(running, move |&running| {
            if before.replace(running) == running {
                return; // the first render
            }
            let (from, to) = if running { (start, cancel) } else { (cancel, start) };
            let Some(document) = web_sys::window().and_then(|window| window.document()) else { return };
            let active = document.active_element();
            let lost = active.is_none()
                || active.as_ref() == document.body().map(Into::into).as_ref()
                || active == from.cast::<web_sys::Element>();
            if let (true, Some(button)) = (lost, to.cast::<HtmlElement>()) {
                let options = FocusOptions::new();
                options.set_prevent_scroll(true);
                let _ = button.focus_with_options(&options);
            }
        });
    }
    (start, cancel)
}
