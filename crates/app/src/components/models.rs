//! Which model explains: the built-in ImageNet ResNet-50 or one of the visitor's own, kept in
//! this browser; adding one (picked or dropped, with its class names and the conversion
//! options), with the conversion's steps.

use web_sys::{DragEvent, File, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::use_focus_handoff;
use crate::convert::Options;
use crate::state::{Conversion, StoredModel};

#[derive(Properties, PartialEq)]
pub struct ModelsProps {
    pub own_models: Vec<StoredModel>,
    pub using: Option<StoredModel>,
    pub conversion: Conversion,
    /// False while a model loads.
    pub enabled: bool,
    pub on_use: Callback<Option<StoredModel>>,
    pub on_add: Callback<(File, Option<File>, Options)>,
    pub on_cancel: Callback<()>,
    pub on_delete: Callback<StoredModel>,
}

/// Class names come as text or JSON; anything else dropped is taken for the model, which the
/// conversion recognises by its content (`.pth.tar`, Lightning's `.ckpt` and the like too).
fn is_labels_file(name: &str) -> bool {
    [".txt", ".json"].iter().any(|ext| name.to_lowercase().ends_with(ext))
}

fn first_file(input: &NodeRef) -> Option<File> {
    input.cast::<HtmlInputElement>()?.files()?.get(0)
}

#[function_component(ModelsPanel)]
pub fn models_panel(props: &ModelsProps) -> Html {
    let (model_input, labels_input) = (use_node_ref(), use_node_ref());
    let options = use_state(Options::default);
    // The options describe the file they came with: once it is converted they are cleared, so
    // that they do not apply unseen (folded away) to the next one.
    {
        let (options, done) = (options.clone(), matches!(props.conversion, Conversion::Done { .. }));
        use_effect_with(done, move |done| {
            if *done {
                options.set(Options::default());
            }
        });
    }
    let on_convert = {
        let (model_input, labels_input, on_add) = (model_input.clone(), labels_input.clone(), props.on_add.clone());
        let options = options.clone();
        Callback::from(move |_| {
            if let Some(model) = first_file(&model_input) {
                on_add.emit((model, first_file(&labels_input), (*options).clone()));
            }
        })
    };
    // A drop here is a model (and perhaps its class names), not a photo for the page.
    let on_drop = {
        let (on_add, options) = (props.on_add.clone(), options.clone());
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            event.stop_propagation();
            let Some(list) = event.data_transfer().and_then(|d| d.files()) else { return };
            let files: Vec<File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
            let (labels, models): (Vec<File>, Vec<File>) = files.into_iter().partition(|f| is_labels_file(&f.name()));
            if let Some(model) = models.into_iter().next() {
                on_add.emit((model, labels.into_iter().next(), (*options).clone()));
            }
        })
    };
    let busy = matches!(props.conversion, Conversion::Running(_));
    let (convert, cancel) = use_focus_handoff(busy);
    let choice = |own: Option<StoredModel>, label: Html, testid: String| {
        let checked = own == props.using;
        let on_use = props.on_use.clone();
        let onchange = Callback::from(move |_| on_use.emit(own.clone()));
        html! {
            <label class="choice">
                <input type="radio" name="model" data-testid={testid} {checked} {onchange} disabled={!props.enabled}/>
                { label }
            </label>
        }
    };
    html! {
        <section class="models panel" aria-labelledby="models-title" ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}>
            <h2 id="models-title">{ "Model" }</h2>
            <ul class="model-list">
                <li>{ choice(None, html! { { "ResNet-50, ImageNet (1000 classes), built in" } }, "model-builtin".into()) }</li>
                { for props.own_models.iter().map(|model| {
                    let on_delete = props.on_delete.clone();
                    let deleted = model.clone();
                    let label = html! {
                        <span>
                            <strong>{ &model.name }</strong>
                            { format!(" · {} · {} classes · ", model.architecture, model.classes) }
                            <code title={model.sha256.clone()}>{ model.short_hash() }</code>
                        </span>
                    };
                    html! {
                        <li data-testid="own-model" data-sha256={model.sha256.clone()}>
                            { choice(Some(model.clone()), label, format!("use-{}", model.short_hash())) }
                            <button class="delete" data-testid="delete-model" onclick={move |_| on_delete.emit(deleted.clone())}
                                aria-label={format!("Delete {} from this browser", model.name)}>{ "Delete" }</button>
                        </li>
                    }
                }) }
            </ul>
            <div class="own">
                <h3>{ "Use your own model" }</h3>
                <p class="hint">
                    { "A ResNet with your own classes (torchvision's 18 to 152, wide or ResNeXt; timm's, ResNet-D too; fastai's, xresnet too; CIFAR's, pre-activation ones and RobustBench's Wide ResNets): a .pth, .pt, .pth.tar or .ckpt from torch.save (a state dict or the whole model; fastai's learn.save, or learn.export's .pkl with its class names), a .safetensors state dict (a Hugging Face model.safetensors, transformers' or timm's, with its config.json for the class names), or a file made by xai convert. It is converted and kept in this browser; nothing is uploaded. Pick the files or drop them here." }
                </p>
                <label>{ "Model file" }<input ref={model_input} data-testid="model-file" type="file" accept=".pth,.pt,.tar,.ckpt,.pkl,.safetensors,.bin"/></label>
                <label>{ "Class names (optional: one a line, or JSON)" }<input ref={labels_input} data-testid="labels-file" type="file" accept=".txt,.json"/></label>
                <ConversionOptions options={(*options).clone()} on_change={Callback::from(move |changed| options.set(changed))} />
                <button data-testid="add-model" ref={convert} onclick={on_convert} disabled={busy}>{ "Convert and use" }</button>
                <ConversionLine conversion={props.conversion.clone()} on_cancel={props.on_cancel.clone()} {cancel} />
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ConversionOptionsProps {
    options: Options,
    on_change: Callback<Options>,
}

/// What the weights do not show of how the model was trained, as `xai convert`'s flags say it;
/// folded away, as most models need none of it.
#[function_component(ConversionOptions)]
fn conversion_options(props: &ConversionOptionsProps) -> Html {
    // Each field's edit, as the options with that field changed.
    let edit = |change: fn(&mut Options, String)| {
        let (options, on_change) = (props.options.clone(), props.on_change.clone());
        move |value: String| {
            let mut changed = options.clone();
            change(&mut changed, value);
            on_change.emit(changed);
        }
    };
    let text = |label: &str, testid: &str, placeholder: &str, value: &str, change: fn(&mut Options, String)| {
        let edit = edit(change);
        let oninput = Callback::from(move |e: InputEvent| edit(e.target_unchecked_into::<HtmlInputElement>().value()));
        html! {
            <label>{ label }<input type="text" inputmode="decimal" data-testid={testid.to_string()}
                placeholder={placeholder.to_string()} value={value.to_string()} {oninput}/></label>
        }
    };
    let choice =
        |label: &str, testid: &str, choices: [(&str, &str); 3], chosen: &str, change: fn(&mut Options, String)| {
            let edit = edit(change);
            let onchange = Callback::from(move |e: Event| edit(e.target_unchecked_into::<HtmlSelectElement>().value()));
            html! {
                <label>{ label }
                    <select data-testid={testid.to_string()} {onchange}>
                        { for choices.iter().map(|(value, shown)| html! {
                            <option value={value.to_string()} selected={*value == chosen}>{ *shown }</option>
                        }) }
                    </select>
                </label>
            }
        };
    let options = &props.options;
    let stride = options.stem_stride.map(|s| s.to_string()).unwrap_or_default();
    let pool = match options.max_pool {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    let ema = {
        let edit = edit(|o, v| o.ema = v == "true");
        Callback::from(move |e: Event| edit(e.target_unchecked_into::<HtmlInputElement>().checked().to_string()))
    };
    html! {
        <details class="options" data-testid="conversion-options">
            <summary>{ "Conversion options" }</summary>
            <p class="hint">{ "What the weights do not show of how the model was trained, and which copy of it a checkpoint's to convert: needed only where it was trained otherwise than the defaults." }</p>
            { text("Mean, of R, G, B in [0, 1] (default: the file's, else ImageNet's)", "option-mean", "0.485, 0.456, 0.406", &options.mean,
                |o, v| o.mean = v) }
            { text("Standard deviation (default: the file's, else ImageNet's)", "option-std", "0.229, 0.224, 0.225", &options.std,
                |o, v| o.std = v) }
            { choice("Stem stride", "option-stem-stride",
                [("", "default: 2, or 1 after a 3x3 stem"), ("1", "1"), ("2", "2")], &stride,
                |o, v| o.stem_stride = v.parse().ok()) }
            { choice("Max pooling after the stem", "option-max-pool",
                [("", "default: yes, or no after a 3x3 stem"), ("yes", "yes"), ("no", "no")], pool,
                |o, v| o.max_pool = match v.as_str() { "yes" => Some(true), "no" => Some(false), _ => None }) }
            { text("Input size the model was trained at (pixels)", "option-input-size", "224, or 32 after a 3x3 stem", &options.input_size,
                |o, v| o.input_size = v) }
            <label class="check">
                <input type="checkbox" data-testid="option-ema" checked={options.ema} onchange={ema} />
                { "Convert the checkpoint's EMA copy of the network (timm's state_dict_ema), not the one trained" }
            </label>
        </details>
    }
}

#[derive(Properties, PartialEq)]
struct ConversionLineProps {
    conversion: Conversion,
    on_cancel: Callback<()>,
    /// The Cancel button, which takes the focus from "Convert and use" while it runs.
    cancel: NodeRef,
}

#[function_component(ConversionLine)]
fn conversion_line(props: &ConversionLineProps) -> Html {
    match &props.conversion {
        Conversion::Idle => html! {},
        Conversion::Running(step) => {
            let on_cancel = props.on_cancel.reform(|_| ());
            html! {
                <p class="conversion" data-testid="conversion" aria-live="polite">
                    <progress aria-label="conversion"></progress>{ format!(" {step}…") }
                    <button data-testid="cancel-conversion" ref={props.cancel.clone()} onclick={on_cancel}>{ "Cancel" }</button>
                </p>
            }
        }
        Conversion::Done { name, ms, unkept, notes } => html! {
            <p class="conversion" data-testid="conversion" data-ms={format!("{ms:.0}")} role="status">
                { format!("Converted {name} in {:.1} s.", ms / 1000.0) }
                if let Some(why) = unkept {
                    // The browser's own message may end with a full stop already.
                    { format!(" It is used until another model is chosen or this page is closed, not kept: {}.", why.trim_end_matches('.')) }
                }
                for note in notes {
                    { format!(" Note: {note}.") }
                }
            </p>
        },
        Conversion::Failed(error) => html! {
            <p class="error" data-testid="conversion-error" role="alert">{ error }</p>
        },
    }
}
