//! Adebayo et al.'s sanity checks of every one-pass method: how much of each map survives as the
//! network's weights are randomized from the top down, and when another class is explained. Each
//! method gets its numbers, a small plot of them against the randomization's depth, and a verdict.

use std::rc::Rc;

use xai_explain::sanity::{Sanity, SIMILAR};
use yew::prelude::*;

use super::use_focus_handoff;
use crate::state::SanityReport;

#[derive(Properties, PartialEq)]
pub struct SanityProps {
    /// The check of the current photo, layer and class, once it is done.
    pub report: Option<Rc<SanityReport>>,
    /// Steps done, while a check runs.
    pub running: Option<usize>,
    /// The parts of the model its randomization goes through, from the top down.
    pub cascade: Vec<&'static str>,
    pub enabled: bool,
    pub on_check: Callback<()>,
    pub on_cancel: Callback<()>,
    /// Downloads the evidence (JSON) and the report card (PNG), the compare view's scores too.
    pub on_report: Callback<()>,
}

const PLOT_WIDTH: f32 = 120.0;
const PLOT_HEIGHT: f32 = 40.0;

/// The plot's height for a similarity in [-1, 1], 1 at the top.
fn plot_y(similarity: f32) -> f32 {
    (1.0 - similarity.clamp(-1.0, 1.0)) / 2.0 * PLOT_HEIGHT
}

/// A polyline through `values`, one per cascade step of `steps`, left to right.
fn polyline(values: impl Iterator<Item = f32>, steps: usize) -> String {
    let step = PLOT_WIDTH / steps as f32;
    // The first point is the original map against itself: 1.
    std::iter::once(1.0)
        .chain(values)
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f32 * step, plot_y(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rank correlation (solid) and SSIM (dashed) against randomization depth, with the verdict's
/// threshold as a faint line.
fn plot(method: &str, sanity: &Sanity) -> Html {
    let steps = sanity.cascade.len();
    let spearman = polyline(sanity.cascade.iter().map(|s| s.similarity.spearman), steps);
    let ssim = polyline(sanity.cascade.iter().map(|s| s.similarity.ssim), steps);
    let threshold = plot_y(SIMILAR);
    let last = sanity.cascade.last().map_or(1.0, |s| s.similarity.spearman);
    html! {
        <svg class="sanity-plot" viewBox={format!("-2 -2 {} {}", PLOT_WIDTH + 4.0, PLOT_HEIGHT + 4.0)}
            width={format!("{}", PLOT_WIDTH + 4.0)} height={format!("{}", PLOT_HEIGHT + 4.0)} role="img"
            aria-label={format!("{method}: rank correlation from 1 to {last:.2} as the network is randomized from fc down to conv1")}>
            <line class="threshold" x1="0" x2={PLOT_WIDTH.to_string()} y1={threshold.to_string()} y2={threshold.to_string()} />
            <polyline class="ssim" points={ssim} />
            <polyline class="spearman" points={spearman} />
        </svg>
    }
}

fn cell(testid: String, spearman: f32, ssim: f32, deciding: bool) -> Html {
    html! {
        <td data-testid={testid} class={classes!((!deciding).then_some("not-deciding"), (spearman > SIMILAR).then_some("similar"))}
            title={format!("rank correlation {spearman:.3}, SSIM {ssim:.3}")}>
            { format!("{spearman:.2}") }
        </td>
    }
}

fn row(method: &'static str, sanity: &Sanity) -> Html {
    let parts = &sanity.cascade;
    let decided = parts.iter().position(|p| p.down_to == sanity.decided_by).map_or(parts.len(), |i| i + 1);
    let steps = sanity.cascade.iter().enumerate().map(|(i, step)| {
        let s = step.similarity;
        cell(format!("sanity-{method}-{}", step.down_to), s.spearman, s.ssim, i < decided)
    });
    let logit = sanity.random_logit.similarity;
    let passes = sanity.passes_randomization() && sanity.passes_random_logit();
    html! {
        <tr data-testid={format!("sanity-row-{method}")}>
            <th scope="row">{ method }</th>
            <td>{ plot(method, sanity) }</td>
            { for steps }
            { cell(format!("sanity-{method}-random"), logit.spearman, logit.ssim, true) }
            <td data-testid={format!("sanity-{method}-verdict")} class={if passes { "verdict pass" } else { "verdict fail" }}>
                { &sanity.verdict }
            </td>
        </tr>
    }
}

#[function_component(SanityPanel)]
pub fn sanity_panel(props: &SanityProps) -> Html {
    let (start, cancel) = use_focus_handoff(props.running.is_some());
    html! {
        <section class="sanity panel" aria-labelledby="sanity-title">
            <h2 id="sanity-title">{ "5. Sanity checks" }</h2>
            <p class="hint">{ format!("Does each map depend on what the network learned? Its weights are re-initialised \
                from the top (fc, then layer4, ... down to conv1) and each map of the same class compared with the \
                original by rank correlation (SSIM on hover); then the map of a random other class. Above {SIMILAR} a \
                map kept its order: it fails. Only the parts down to the explained layer decide; below it the \
                activations themselves are random (Adebayo et al. 2018).") }</p>
            <p class="actions">
                <button data-testid="sanity" ref={start} disabled={!props.enabled || props.running.is_some()}
                    onclick={props.on_check.reform(|_| ())}>{ "Run sanity checks" }</button>
                if let Some(done) = props.running {
                    <span data-testid="sanity-progress" role="status">
                        { match props.cascade.get(done) {
                            Some(part) => format!("Step {} of {}: randomizing {part}", done + 1, props.cascade.len() + 1),
                            None => format!("Step {} of {}: a random class", done + 1, props.cascade.len() + 1),
                        } }
                    </span>
                    <button data-testid="sanity-cancel" ref={cancel} onclick={props.on_cancel.reform(|_| ())}>{ "Cancel" }</button>
                }
            </p>
            if let Some(report) = &props.report {
                <p class="timings" data-testid="sanity-ms">
                    { format!("{} methods checked in {:.1} s; the random class is {}", report.methods.len(), report.ms / 1000.0,
                        report.random_label) }
                </p>
                <p class="actions">
                    <button data-testid="sanity-report" onclick={props.on_report.reform(|_| ())}
                        title="Every map and check as JSON (as xai sanity --json writes it), with the compare view's scores, and a PNG report card">
                        { "Download report" }
                    </button>
                </p>
                <div class="table-scroll">
                    <table data-testid="sanity-table">
                        <thead>
                            <tr>
                                <th scope="col">{ "Method" }</th>
                                <th scope="col" title="Rank correlation (solid) and SSIM (dashed) from the original map \
                                    to conv1 randomized; the faint line is the threshold">{ "Plot" }</th>
                                { for props.cascade.iter().map(|part| html! {
                                    <th scope="col" title={format!("Randomized from fc down to {part}")}>{ format!("to {part}") }</th>
                                }) }
                                <th scope="col" title="The map of a random other class">{ "Random class" }</th>
                                <th scope="col">{ "Verdict" }</th>
                            </tr>
                        </thead>
                        <tbody>{ for report.methods.iter().map(|(method, _, sanity)| row(method, sanity)) }</tbody>
                    </table>
                </div>
            }
        </section>
    }
}
