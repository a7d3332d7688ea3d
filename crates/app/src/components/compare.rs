//! Every method side by side: the overlays of the methods one pass explains, and their scores as
//! they come, in a table the visitor sorts by any score (each heading says what it measures).

use std::rc::Rc;

use web_sys::HtmlCanvasElement;
use xai_explain::metrics::Metric;
use xai_explain::render::overlay;
use xai_explain::Map;
use xai_model::architecture::Tail;
use yew::prelude::*;

use super::use_focus_handoff;
use crate::canvas::paint;
use crate::state::{Action, CompareProgress, Compared, Comparison, GalleryPhoto, Look, ScoreCost};

#[derive(Properties, PartialEq)]
pub struct CompareProps {
    pub photo: Option<Rc<GalleryPhoto>>,
    /// The comparison of the current photo, layer and class, once its maps are there.
    pub comparison: Option<Rc<Comparison>>,
    pub running: bool,
    /// How far the comparison's current step is.
    pub progress: Option<CompareProgress>,
    pub sort: Option<Metric>,
    pub look: Look,
    /// What the model's layers lead to: where CAM, Score-CAM and Ablation-CAM are defined.
    pub tail: Tail,
    pub enabled: bool,
    pub dispatch: Callback<Action>,
    pub on_compare: Callback<()>,
    pub on_cancel: Callback<()>,
    /// Adds Ablation-CAM and Score-CAM, which run passes of their own.
    pub on_own_passes: Callback<()>,
    /// Downloads the evidence (JSON) and the report card (PNG).
    pub on_report: Callback<()>,
}

#[derive(Properties, PartialEq)]
struct ThumbnailProps {
    photo: Rc<GalleryPhoto>,
    map: Map,
    look: Look,
    method: &'static str,
}

/// One method's overlay, small.
#[function_component(Thumbnail)]
fn thumbnail(props: &ThumbnailProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with((props.photo.clone(), props.map.clone(), props.look), move |(photo, map, look)| {
            if let Some(canvas) = canvas.cast::<HtmlCanvasElement>() {
                paint(&canvas, &overlay(&photo.crop, map, look.colormap, f32::from(look.opacity) / 100.0));
            }
        });
    }
    html! {
        <canvas ref={canvas} class="thumbnail" data-testid={format!("compare-overlay-{}", props.method)} role="img"
            aria-label={format!("{} heatmap over the photo", props.method)}></canvas>
    }
}

/// The methods in the order the visitor asked for: best first by `sort`, unscored last.
fn sorted(methods: &[Compared], sort: Option<Metric>) -> Vec<&Compared> {
    let mut rows: Vec<&Compared> = methods.iter().collect();
    if let Some(metric) = sort {
        let key = |m: &Compared| m.scores.as_ref().map(|(s, _)| metric.value(s));
        rows.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) if metric.higher_is_better() => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (a, b) => b.is_some().cmp(&a.is_some()),
        });
    }
    rows
}

#[function_component(ComparePanel)]
pub fn compare_panel(props: &CompareProps) -> Html {
    let (start, cancel) = use_focus_handoff(props.running);
    let scored = props.comparison.as_ref().map_or(0, |c| c.methods.iter().filter(|m| m.scores.is_some()).count());
    let header = |metric: Metric| {
        let chosen = props.sort == Some(metric);
        let next = (!chosen).then_some(metric);
        let onclick = props.dispatch.reform(move |_| Action::SortBy(next));
        let arrow = if metric.higher_is_better() { "higher is better" } else { "lower is better" };
        html! {
            <th scope="col" title={metric.explanation()} aria-sort={match (chosen, metric.higher_is_better()) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            }}>
                <button class={classes!("sort", chosen.then_some("chosen"))} onclick={onclick}
                    data-testid={format!("sort-{}", metric.name())} aria-label={format!("sort by {}, {arrow}", metric.title())}>
                    { metric.title() }
                </button>
            </th>
        }
    };
    let row = |compared: &Compared| {
        let cells = Metric::ALL.map(|metric| {
            let text = compared.scores.as_ref().map_or("…".to_string(), |(scores, _)| match metric {
                Metric::Increase => if scores.faithfulness.increase { "yes" } else { "no" }.to_string(),
                Metric::Drop => format!("{:.1}", metric.value(scores)),
                _ => format!("{:.3}", metric.value(scores)),
            });
            html! { <td data-testid={format!("score-{}-{}", compared.method, metric.name())}>{ text }</td> }
        });
        let (time, why) = match compared.scores.as_ref().map(|(_, cost)| *cost) {
            None => ("…".to_string(), None),
            Some(ScoreCost::Ms(ms)) => (format!("{:.1} s", ms / 1000.0), None),
            Some(ScoreCost::SameMapAs(method)) => (
                format!("as {method}"),
                Some(format!("Its map is {method}'s up to a factor, so it has {method}'s scores")),
            ),
        };
        html! {
            <tr data-testid={format!("compare-row-{}", compared.method)}>
                <th scope="row">{ compared.method }</th>
                <td>
                    if let Some(photo) = &props.photo {
                        <Thumbnail photo={photo.clone()} map={compared.map.clone()} look={props.look} method={compared.method} />
                    }
                </td>
                { for cells }
                <td title={why} data-testid={format!("time-{}", compared.method)}>{ time }</td>
            </tr>
        }
    };
    let methods = props.comparison.as_ref().map_or(0, |c| c.methods.len());
    let progress = match props.progress {
        Some(CompareProgress::Channels(method, done, of)) => format!("{method}: {done} of {of} channels scored"),
        Some(CompareProgress::Images(method, done, of)) => {
            format!("Scoring: {scored} of {methods} methods done; {method}: {done} of {of} images scored")
        }
        None => format!("Scoring: {scored} of {methods} methods done"),
    };
    html! {
        <section class="compare panel" aria-labelledby="compare-title">
            <h2 id="compare-title">{ "4. Every method, side by side and scored" }</h2>
            <p class="hint">{ "The methods that need no passes of their own, for this photo, layer and class: the maps \
                come from one pass of the network, then each is scored by how the network's confidence changes \
                when what it highlights is removed or kept (dozens of passes each). Hover a heading for what it measures." }</p>
            <p class="actions">
                <button data-testid="compare" ref={start} disabled={!props.enabled || props.photo.is_none() || props.running}
                    onclick={props.on_compare.reform(|_| ())}>{ "Compare all methods" }</button>
                if let Some(missing) = props.comparison.as_ref().map(|c| c.missing_own_passes(props.tail)).filter(|m| !props.running && !m.is_empty()) {
                    <button data-testid="compare-own" onclick={props.on_own_passes.reform(|_| ())}
                        title="Hundreds of passes of the network each: minutes on a CPU">
                        { format!("Add {}", missing.iter().map(|m| m.name()).collect::<Vec<_>>().join(" and ")) }
                    </button>
                }
                if props.running {
                    <span data-testid="compare-progress" role="status">
                        { progress }
                    </span>
                    <button data-testid="compare-cancel" ref={cancel} onclick={props.on_cancel.reform(|_| ())}>{ "Cancel" }</button>
                }
            </p>
            if let Some(comparison) = &props.comparison {
                <p class="timings" data-testid="compare-maps-ms">
                    { format!("{} maps from one pass in {:.0} ms", comparison.methods.len() - comparison.own_passes_ms.len(), comparison.maps_ms) }
                    { for comparison.own_passes_ms.iter().map(|(method, ms)| format!("; {method} in {:.1} s", ms / 1000.0)) }
                </p>
                <p class="actions">
                    <button data-testid="compare-report" onclick={props.on_report.reform(|_| ())}
                        title="Every map, score and sanity check as JSON (as xai eval --json writes it), and a PNG report card">
                        { "Download report" }
                    </button>
                </p>
                <div class="table-scroll">
                    <table data-testid="compare-table">
                        <thead>
                            <tr>
                                <th scope="col">{ "Method" }</th>
                                <th scope="col">{ "Overlay" }</th>
                                { for Metric::ALL.map(header) }
                                <th scope="col" title="Seconds to compute this method's scores">{ "Time" }</th>
                            </tr>
                        </thead>
                        <tbody>{ for sorted(&comparison.methods, props.sort).into_iter().map(row) }</tbody>
                    </table>
                </div>
            }
        </section>
    }
}
