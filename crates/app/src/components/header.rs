//! The top of the page: what xai-lens is, the backend and job status, the model's download, the
//! model a share link needs, and notices and errors.

use yew::prelude::*;

use xai_share::ModelRef;

use crate::state::{model_name, ModelState, Notice, Status, StoredModel};

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub model: ModelState,
    pub using: Option<StoredModel>,
    /// The model a share link was made with, when this browser does not have it, or has it
    /// but could not load it (`wanted_kept`).
    pub wanted: Option<ModelRef>,
    pub wanted_kept: bool,
    pub status: Status,
    /// Jobs started so far: tests wait for a higher number.
    pub jobs: u64,
    /// About the device, the model in use and the link opened.
    pub notice: Option<Notice>,
    pub model_notice: Option<Notice>,
    pub link_notice: Option<Notice>,
    pub error: Option<String>,
}

#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let backend = match &props.model {
        ModelState::Ready { backend, .. } => *backend,
        _ => "",
    };
    html! {
        <header class="masthead">
            <div class="brand">
                <h1>{ "xai-lens" }</h1>
                <p class="tagline">
                    { "What a ResNet sees in your photo: a real ImageNet ResNet-50, or your own model. Everything runs in this browser: your photos and models never leave it." }
                </p>
            </div>
            <p class="meta">
                { "Backend: " }<strong data-testid="backend">{ backend }</strong>
                { " · Status: " }
                <span data-testid="status" data-job={props.jobs.to_string()} aria-live="polite">{ props.status.name() }</span>
            </p>
            <ModelLine model={props.model.clone()} using={props.using.clone()} />
            if let Some(wanted) = &props.wanted {
                <p class="notice" data-testid="wanted-model" role="status">
                    { "This link was made with the model " }<strong>{ &wanted.name }</strong>
                    { format!(" (SHA-256 {}…), ", &wanted.sha256[..12]) }
                    { if props.wanted_kept {
                        "which this browser keeps but could not load"
                    } else {
                        "which this browser does not have"
                    } }
                    if let Some(setup) = &wanted.setup {
                        { format!(". Load that file under \"Use your own model\", its conversion options set for {setup}, to see the view.") }
                    } else {
                        { ". Load that file under \"Use your own model\" to see the view." }
                    }
                </p>
            }
            { for props.notice.iter().chain(&props.model_notice).chain(&props.link_notice).map(|notice| html! {
                <div class="notice" role="status">
                    <p>{ &notice.text }</p>
                    if let Some(details) = &notice.details {
                        <details><summary>{ "Details" }</summary><code>{ details }</code></details>
                    }
                </div>
            }) }
            <div data-testid="error" class="error" role="alert" hidden={props.error.is_none()}>
                { props.error.clone().unwrap_or_default() }
            </div>
        </header>
    }
}

#[derive(Properties, PartialEq)]
struct ModelLineProps {
    model: ModelState,
    using: Option<StoredModel>,
}

/// The model's download with its progress, then how long it took.
#[function_component(ModelLine)]
fn model_line(props: &ModelLineProps) -> Html {
    match &props.model {
        ModelState::Loading { loaded, total } => {
            let percent = total.map(|t| 100.0 * *loaded as f64 / t.max(1) as f64);
            let label = format!(
                "Loading the model: {:.1} MB{}",
                *loaded as f64 / 1e6,
                percent.map(|p| format!(" ({p:.0}%)")).unwrap_or_default()
            );
            html! {
                <p class="model" data-testid="model">
                    <progress max="100" value={percent.unwrap_or(0.0).to_string()} aria-label="model download"></progress>
                    { " " }{ label }
                </p>
            }
        }
        ModelState::Ready { ms, cached, .. } => {
            let name = model_name(props.using.as_ref());
            let origin = if *cached { " (from this browser)" } else { "" };
            html! {
                <p class="model" data-testid="model">
                    { "Model: " }<strong data-testid="model-name">{ name }</strong>{ format!(" · ready in {ms:.0} ms{origin}") }
                </p>
            }
        }
        // Its error is said above; the page cannot go on without a model.
        ModelState::Failed => {
            let reload = Callback::from(|_| {
                let _ = web_sys::window().map(|window| window.location().reload());
            });
            html! { <p class="model"><button data-testid="reload" onclick={reload}>{ "Try again" }</button></p> }
        }
    }
}
