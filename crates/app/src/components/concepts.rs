//! Deep Feature Factorization: the photos to factorise together, k, and the concepts found,
//! each painted in its own colour with its classes and share in the legend.

use std::rc::Rc;

use image::{RgbImage, RgbaImage};
use web_sys::{HtmlCanvasElement, HtmlInputElement};
use xai_explain::render::{concept_colours, concept_composites, only_concept};
use xai_explain::{Concepts, Map};
use yew::prelude::*;

use super::use_focus_handoff;
use crate::canvas::{download, paint};
use crate::state::{Action, FactorizeKey, GalleryPhoto};

#[derive(Properties, PartialEq)]
pub struct ConceptsProps {
    pub gallery: Vec<Rc<GalleryPhoto>>,
    pub picks: Vec<u64>,
    pub k: usize,
    pub found: Option<(FactorizeKey, Rc<Concepts>)>,
    /// The one concept painted alone, if any.
    pub shown: Option<usize>,
    pub enabled: bool,
    /// While a factorisation runs: its photos done, of how many.
    pub progress: Option<(usize, usize)>,
    pub dispatch: Callback<Action>,
    pub on_factorize: Callback<()>,
    pub on_cancel: Callback<()>,
}

/// The composite of the photos, eight to a row; with `only`, that concept alone.
fn composite(crops: &[RgbImage], concepts: &Concepts, only: Option<usize>) -> RgbaImage {
    let keep = |maps: &Vec<Map>| only.map_or_else(|| maps.clone(), |k| only_concept(maps, k));
    let maps: Vec<Vec<Map>> = concepts.maps.iter().map(keep).collect();
    concept_composites(crops, &maps, 0.5)
}

#[function_component(ConceptsPanel)]
pub fn concepts_panel(props: &ConceptsProps) -> Html {
    let canvas = use_node_ref();
    let (start, cancel) = use_focus_handoff(props.progress.is_some());
    {
        let canvas = canvas.clone();
        use_effect_with((props.found.clone(), props.shown), move |(found, shown)| {
            let Some(canvas) = canvas.cast::<HtmlCanvasElement>() else { return };
            match found {
                Some((key, concepts)) => {
                    let crops: Vec<RgbImage> = key.photos.iter().map(|p| p.crop.clone()).collect();
                    paint(&canvas, &composite(&crops, concepts, *shown));
                }
                // Concepts forgotten (another model, say): their picture goes with their legend.
                None => {
                    canvas.set_width(0);
                    canvas.set_height(0);
                }
            }
        });
    }
    let on_k = props.dispatch.reform(|event: InputEvent| {
        let input: HtmlInputElement = event.target_unchecked_into();
        Action::SetK(input.value().parse().unwrap_or(1))
    });
    let on_download = {
        let canvas = canvas.clone();
        Callback::from(move |_| {
            if let Some(canvas) = canvas.cast::<HtmlCanvasElement>() {
                download(&canvas, "xai-lens-concepts.png");
            }
        })
    };
    html! {
        <section class="dff panel" aria-labelledby="dff-title">
            <h2 id="dff-title">{ "Concepts (Deep Feature Factorization)" }</h2>
            <p class="hint">
                { "Splits the network's last features into k concepts, each named by the classes it votes for. Tick several photos to find the concepts they share." }
            </p>
            <fieldset class="gallery">
                <legend>{ "Photos" }</legend>
                { for props.gallery.iter().map(|photo| {
                    let (dispatch, id) = (props.dispatch.clone(), photo.id);
                    html! {
                        <label>
                            <input type="checkbox" checked={props.picks.contains(&id)}
                                onchange={move |_| dispatch.emit(Action::TogglePick(id))}/>
                            { format!(" {}", photo.name) }
                        </label>
                    }
                }) }
            </fieldset>
            <label for="k">{ format!("k = {} concepts ", props.k) }</label>
            <input id="k" data-testid="k" type="range" min="1" max="16" value={props.k.to_string()} oninput={on_k}/>
            <p class="actions">
                <button ref={start} onclick={props.on_factorize.reform(|_| ())}
                    disabled={!props.enabled || props.gallery.is_empty() || props.progress.is_some()}>
                    { "Find concepts" }
                </button>
                if let Some((done, of)) = props.progress {
                    <span data-testid="dff-progress" role="status">
                        { if done < of { format!("Photo {} of {of}", done + 1) } else { "Factorising".to_string() } }
                    </span>
                    <button data-testid="dff-cancel" ref={cancel} onclick={props.on_cancel.reform(|_| ())}>{ "Cancel" }</button>
                }
            </p>
            <div class="dff-canvas">
                <canvas ref={canvas} data-testid="dff" role="img" aria-label="each region coloured by its concept"></canvas>
            </div>
            if let Some((_, concepts)) = &props.found {
                <ul class="legend">
                    { for concepts.concepts.iter().zip(concept_colours(concepts.concepts.len())).enumerate().map(|(i, (c, colour))| {
                        let labels: Vec<String> =
                            c.labels.iter().map(|(l, p)| format!("{} {:.0}%", l.replace('_', " "), 100.0 * p)).collect();
                        let dispatch = props.dispatch.clone();
                        html! {
                            <li><button aria-pressed={(props.shown == Some(i)).to_string()}
                                onclick={move |_| dispatch.emit(Action::ToggleConcept(i))}>
                                <span class="swatch" style={format!("background: rgb({},{},{})", colour[0], colour[1], colour[2])}></span>
                                { format!("{} · {:.0}% of the photo", labels.join(", "), 100.0 * c.share) }
                            </button></li>
                        }
                    }) }
                </ul>
                <button onclick={on_download}>{ "Download concepts" }</button>
            }
        </section>
    }
}
