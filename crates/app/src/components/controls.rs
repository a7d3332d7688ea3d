//! The explanation's settings. Method, layer, class and score change what the network computes;
//! colormap and opacity only how the map is painted.

use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use xai_explain::render::Colormap;
use xai_explain::Score;
use xai_model::architecture::Tail;
use xai_model::Layer;
use yew::prelude::*;

use crate::state::{Action, Look, Question};

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub question: Question,
    /// The model's layers, each with the side of its maps.
    pub layers: Vec<(Layer, usize)>,
    /// What they lead to, which decides the methods defined at each.
    pub tail: Tail,
    pub look: Look,
    /// The classes a contrast can name (the top five but the explained one), with their labels.
    pub others: Vec<(usize, String)>,
    pub dispatch: Callback<Action>,
}

/// The score select's value for `score`, and back.
fn score_value(score: Score) -> String {
    match score {
        Score::Logit => "logit".into(),
        Score::Probability => "probability".into(),
        Score::Versus(other) => format!("versus-{other}"),
    }
}

fn parse_score(value: &str) -> Option<Score> {
    match value {
        "logit" => Some(Score::Logit),
        "probability" => Some(Score::Probability),
        _ => value.strip_prefix("versus-")?.parse().ok().map(Score::Versus),
    }
}

/// What each score makes the map show.
fn score_summary(score: Score) -> &'static str {
    match score {
        Score::Logit => "The class's logit: everything that speaks for the class.",
        Score::Probability => "The class's probability: what speaks for it rather than for any other class.",
        Score::Versus(_) => "The class's logit minus the other's: why this class and not that one.",
    }
}

/// What a layer's map of `side` x `side` shows, in a network whose last layer is `last`.
fn layer_summary(layer: Layer, side: usize, last: Layer) -> String {
    let shows = match layer {
        _ if layer == last => "the features the class decision is made from; coarse but most faithful.",
        Layer::Layer1 => "edges and textures; fine detail, little about the class.",
        Layer::Layer2 => "patterns and small parts.",
        Layer::Layer3 | Layer::Layer4 => "object parts; sharper than the last layer and still class-specific.",
    };
    format!("{side} x {side}: {shows}")
}

/// A callback that reads a select's or an input's value and turns it into an action.
fn on_value<E: AsRef<Event> + 'static>(
    dispatch: &Callback<Action>,
    action: fn(String) -> Option<Action>,
) -> Callback<E> {
    let dispatch = dispatch.clone();
    Callback::from(move |event: E| {
        let target = event.as_ref().target();
        let select = target.clone().and_then(|t| t.dyn_into::<HtmlSelectElement>().ok()).map(|s| s.value());
        let value = select.or_else(|| target.and_then(|t| t.dyn_into::<HtmlInputElement>().ok()).map(|i| i.value()));
        if let Some(action) = action(value.unwrap_or_default()) {
            dispatch.emit(action);
        }
    })
}

/// A select that shows `value`: an option's `selected` no longer moves the selection once the
/// visitor has chosen by hand, so a change the state makes itself (a cancel going back to the
/// last method, a contrast dropped) would not show without this.
#[hook]
fn use_select_value(value: String) -> NodeRef {
    let select = use_node_ref();
    {
        let select = select.clone();
        use_effect_with(value, move |value| {
            if let Some(select) = select.cast::<HtmlSelectElement>() {
                select.set_value(value);
            }
        });
    }
    select
}

#[function_component(Controls)]
pub fn controls(props: &ControlsProps) -> Html {
    let Question { method, layer, .. } = &props.question;
    let (tail, last) = (props.tail, props.tail.last);
    let side = props.layers.iter().find(|(l, _)| l == layer).map_or(0, |(_, side)| *side);
    let summary = xai_explain::method(method).map(|m| m.summary()).unwrap_or_default();
    let on_method = on_value::<Event>(&props.dispatch, |v| Some(Action::SetMethod(v)));
    let on_layer = on_value::<Event>(&props.dispatch, |v| v.parse().ok().map(Action::SetLayer));
    let on_colormap = on_value::<Event>(&props.dispatch, |v| v.parse().ok().map(Action::SetColormap));
    let on_opacity = on_value::<InputEvent>(&props.dispatch, |v| v.parse().ok().map(Action::SetOpacity));
    let on_score = on_value::<Event>(&props.dispatch, |v| parse_score(&v).map(Action::SetScore));
    let score = props.question.score;
    let method_select = use_select_value(method.clone());
    let layer_select = use_select_value(layer.to_string());
    let score_select = use_select_value(score_value(score));
    let colormap_select = use_select_value(props.look.colormap.name().into());
    let mut others = props.others.clone();
    // A contrast from a share link may name a class outside the top five.
    if let Score::Versus(other) = score
        && !others.iter().any(|(class, _)| *class == other)
    {
        others.push((other, format!("class {other}")));
    }
    html! {
        <section class="controls panel" aria-labelledby="controls-title">
            <h2 id="controls-title">{ "2. Choose how to explain" }</h2>
            <label for="method">{ "Method" }</label>
            <select ref={method_select} id="method" data-testid="method" onchange={on_method} aria-describedby="method-hint">
                { for xai_explain::all_methods().iter().map(|m| html! {
                    <option value={m.name()} selected={method == m.name()} disabled={!m.supports(*layer, tail)}>{ m.name() }</option>
                }) }
            </select>
            <p class="hint" id="method-hint">{ summary }</p>
            <label for="layer">{ "Layer" }</label>
            <select ref={layer_select} id="layer" data-testid="layer" onchange={on_layer} aria-describedby="layer-hint">
                { for props.layers.iter().map(|(l, _)| {
                    let allowed = xai_explain::method(method).map_or(true, |m| m.supports(*l, tail));
                    html! { <option value={l.to_string()} selected={layer == l} disabled={!allowed}>{ l.to_string() }</option> }
                }) }
            </select>
            <p class="hint" id="layer-hint">{ layer_summary(*layer, side, last) }</p>
            <label for="score">{ "Explain" }</label>
            <select ref={score_select} id="score" data-testid="score" onchange={on_score} aria-describedby="score-hint">
                { for [Score::Logit, Score::Probability].into_iter().map(|s| html! {
                    <option value={score_value(s)} selected={score == s}>{ format!("its {}", if s == Score::Logit { "logit" } else { "probability" }) }</option>
                }) }
                { for others.iter().map(|(class, label)| {
                    let s = Score::Versus(*class);
                    html! { <option value={score_value(s)} selected={score == s}>{ format!("versus {}", label.replace('_', " ")) }</option> }
                }) }
            </select>
            <p class="hint" id="score-hint">{ score_summary(score) }</p>
            <label for="colormap">{ "Colormap" }</label>
            <select ref={colormap_select} id="colormap" data-testid="colormap" onchange={on_colormap}>
                { for Colormap::ALL.iter().map(|c| html! {
                    <option value={c.name()} selected={props.look.colormap == *c}>{ c.name() }</option>
                }) }
            </select>
            <label for="opacity">{ format!("Opacity {}%", props.look.opacity) }</label>
            <input id="opacity" data-testid="opacity" type="range" min="0" max="100"
                value={props.look.opacity.to_string()} oninput={on_opacity}/>
        </section>
    }
}
