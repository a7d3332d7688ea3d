//! The photo and its explanation, large, with the heatmap's colour scale, the top-5 classes
//! (click one to explain it) and the ways to keep the result: link, overlay, report card.

use std::rc::Rc;

use web_sys::HtmlCanvasElement;
use xai_explain::evidence::VERSION;
use xai_explain::render::{overlay, Colormap};
use yew::prelude::*;

use super::use_focus_handoff;
use crate::canvas::{download, paint, report_card};
use crate::state::{Explained, GalleryPhoto, Look, Question};

#[derive(Properties, PartialEq)]
pub struct ResultProps {
    pub photo: Option<Rc<GalleryPhoto>>,
    /// The analysis of `photo` shown: for `question`, or while that runs, the last one.
    pub shown: Option<Rc<Explained>>,
    pub question: Question,
    pub look: Look,
    /// The share link's fragment for what is shown.
    pub share: Option<String>,
    /// The model's name, for the report card.
    pub model: AttrValue,
    pub on_class: Callback<usize>,
    /// Channels done of how many, while a method with passes of its own runs.
    pub progress: Option<(usize, usize)>,
    /// Stops that method, going back to the one before.
    pub on_cancel: Callback<()>,
}

/// The colormap as a CSS gradient from its low end to its high end.
fn colour_scale(colormap: Colormap) -> String {
    let lut = colormap.lut();
    let stops: Vec<String> = (0..=8)
        .map(|i| {
            let [r, g, b] = lut[i * 255 / 8];
            format!("rgb({r},{g},{b}) {}%", i * 100 / 8)
        })
        .collect();
    format!("background: linear-gradient(to right, {})", stops.join(", "))
}

fn share_href(fragment: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let base = location.and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?)));
    format!("{}#{fragment}", base.unwrap_or_default())
}

#[function_component(ResultView)]
pub fn result_view(props: &ResultProps) -> Html {
    let (photo_canvas, overlay_canvas) = (use_node_ref(), use_node_ref());
    let (title, cancel) = use_focus_handoff(props.progress.is_some());
    // Painting is cheap and runs on the map already read back: a new look never reaches the
    // network.
    {
        let (photo_canvas, overlay_canvas) = (photo_canvas.clone(), overlay_canvas.clone());
        let painted = (props.photo.clone(), props.shown.clone(), props.look);
        use_effect_with(painted, move |(photo, shown, look)| {
            if let (Some(photo), Some(canvas)) = (photo, photo_canvas.cast::<HtmlCanvasElement>()) {
                paint(&canvas, &image::DynamicImage::from(photo.crop.clone()).to_rgba8());
            }
            if let (Some(photo), Some(canvas)) = (photo, overlay_canvas.cast::<HtmlCanvasElement>()) {
                // Without an answer for this photo yet, the photo alone: not another photo's map.
                let painted = match shown {
                    Some(shown) => overlay(&photo.crop, &shown.map, look.colormap, f32::from(look.opacity) / 100.0),
                    None => image::DynamicImage::from(photo.crop.clone()).to_rgba8(),
                };
                paint(&canvas, &painted);
            }
        });
    }
    let download_overlay = {
        let canvas = overlay_canvas.clone();
        Callback::from(move |_| {
            if let Some(canvas) = canvas.cast::<HtmlCanvasElement>() {
                download(&canvas, "xai-lens-overlay.png");
            }
        })
    };
    let download_report = {
        let (photo, shown, look, model) = (props.photo.clone(), props.shown.clone(), props.look, props.model.clone());
        Callback::from(move |_| {
            let (Some(photo), Some(shown)) = (&photo, &shown) else { return };
            // The question the map answers, which may not be the one running now.
            let question = &shown.key.question;
            let mut lines: Vec<String> =
                shown.top5.iter().map(|p| format!("{:5.1}%  {}", 100.0 * p.prob, p.label)).collect();
            lines.push(format!(
                "{} at {}, class {}, its {}; {model} (xai-lens {VERSION})",
                question.method, question.layer, shown.class, question.score
            ));
            let photo_rgba = image::DynamicImage::from(photo.crop.clone()).to_rgba8();
            let overlay = overlay(&photo.crop, &shown.map, look.colormap, f32::from(look.opacity) / 100.0);
            let images = [(vec!["the photo".into()], photo_rgba), (vec![question.method.clone()], overlay)];
            if let Some(card) = report_card(photo.crop.width(), &images, &lines) {
                download(&card, "xai-lens-report.png");
            }
        })
    };
    // Dimmed until the answer is the current question's.
    let pending = props.shown.as_ref().is_none_or(|s| s.key.question != props.question).then_some("pending");
    html! {
        <section class="result panel" aria-labelledby="result-title">
            // Focusable, to take the keyboard's place when Cancel goes, or a photo is opened from
            // the audit far below.
            <h2 id="result-title" ref={title} tabindex="-1">{ "3. What the network looked at" }</h2>
            <div class="images">
                <figure>
                    <canvas ref={photo_canvas} data-testid="photo" role="img" aria-label="the photo, cropped to 224 x 224"></canvas>
                    <figcaption>{ "The photo as the network sees it (224 x 224)" }</figcaption>
                </figure>
                <figure>
                    <canvas ref={overlay_canvas} class={classes!(pending)} data-testid="overlay" role="img"
                        aria-label="heatmap of what the network looked at, over the photo"></canvas>
                    <div class="scale" style={colour_scale(props.look.colormap)} aria-hidden="true"></div>
                    <figcaption class="scale-labels"><span>{ "ignored" }</span><span>{ "looked at most" }</span></figcaption>
                </figure>
            </div>
            if let Some((done, of)) = props.progress {
                <p class="actions">
                    <span data-testid="analysis-progress" role="status">
                        { format!("{}: {done} of {of} channels, each a pass of the network", props.question.method) }
                    </span>
                    <button data-testid="analysis-cancel" ref={cancel} onclick={props.on_cancel.reform(|_| ())}>{ "Cancel" }</button>
                </p>
            }
            if let Some(shown) = &props.shown {
                <p data-testid="prediction" class="prediction">{ shown.top5[0].label.replace('_', " ") }</p>
                <ol data-testid="top5" class="top5" aria-label="the five most probable classes; choose one to explain it">
                    { for shown.top5.iter().map(|p| {
                        let (class, chosen) = (p.class, shown.class == p.class);
                        let on_class = props.on_class.clone();
                        html! {
                            <li>
                                <button class={classes!("class", chosen.then_some("chosen"))} aria-pressed={chosen.to_string()}
                                    onclick={move |_| on_class.emit(class)}>
                                    <span class="bar" style={format!("width: {:.1}%", 100.0 * p.prob)}></span>
                                    <span class="label">{ format!("{} {:.1}%", p.label.replace('_', " "), 100.0 * p.prob) }</span>
                                </button>
                            </li>
                        }
                    }) }
                </ol>
                <p class="timings">{ format!("Classified and explained in {:.0} ms", shown.ms) }</p>
                <p class="actions">
                    // Only for the answer shown: a link to the one still running would be bare.
                    if let Some(share) = props.share.as_deref() {
                        <a data-testid="share" href={share_href(share)}>{ "Share link" }</a>
                    }
                    <button onclick={download_overlay}>{ "Download overlay" }</button>
                    <button onclick={download_report}>{ "Download report card" }</button>
                </p>
            }
        </section>
    }
}
