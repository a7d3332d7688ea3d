//! The page: one component owns the state (weights, photos, settings, results) and every async
//! job; a result is shown only if it belongs to the newest job.

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlCanvasElement, HtmlInputElement, HtmlSelectElement};
use xai_explain::readback::ReadbackError;
use xai_explain::render::{concept_colours, Colormap};
use xai_model::{Labels, Layer, ResNet};
use xai_share::{Photo, Shared};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::canvas::{download, paint, report_card};
use crate::engine::{dff_composite, now_ms, pick_device, Analysis, Backend, Engine, Failure, Settings};
use crate::fetch::{fetch_bytes, fetch_weights, file_bytes, forget_weights};
use crate::photo::{self, Entry, DEMOS};

pub const WEIGHTS_URL: &str = "resnet50-int8.safetensors";

#[derive(Clone, PartialEq)]
enum Weights {
    Loading { loaded: u64, total: Option<u64> },
    Ready { ms: f64, cached: bool },
    Failed(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    Idle,
    Loading,
    Running,
    Done,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Loading => "loading",
            Status::Running => "running",
            Status::Done => "done",
        }
    }
}

fn default_settings() -> Settings {
    Settings { method: "gradcam".into(), layer: Layer::Layer4, class: None, colormap: Colormap::Jet, opacity: 50, k: 5 }
}

/// Checks a share link's names against what the app offers.
fn settings_from_link(link: &Shared) -> Result<Settings, String> {
    xai_explain::method(&link.method).map_err(|e| format!("share link: {e}"))?;
    Ok(Settings {
        method: link.method.clone(),
        layer: link.layer.parse().map_err(|e| format!("share link: {e}"))?,
        class: link.class,
        colormap: link.colormap.parse().map_err(|e| format!("share link: {e}"))?,
        opacity: link.opacity,
        k: link.k.max(1),
    })
}

/// Downloads (or reads from the cache) and checks the weights, and puts them on `device`; a
/// cached copy that fails its checks is dropped and fetched again once. Says whether the
/// weights came from the cache.
async fn load_engine(device: Device, backend: Backend, progress: &dyn Fn(u64, Option<u64>)) -> Result<(Engine, bool), String> {
    let labels = Labels::from_json(&fetch_bytes("labels.json").await?).map_err(|e| e.to_string())?;
    let (bytes, cached) = fetch_weights(WEIGHTS_URL, progress).await?;
    let net = match ResNet::from_safetensors(&bytes, &device) {
        Ok((net, _)) => net,
        Err(_) if cached => {
            forget_weights(WEIGHTS_URL).await;
            let (bytes, _) = fetch_weights(WEIGHTS_URL, progress).await?;
            ResNet::from_safetensors(&bytes, &device).map_err(|e| format!("the weights are damaged: {e}"))?.0
        }
        Err(e) => return Err(format!("the weights are damaged: {e}")),
    };
    Ok((Engine { net, labels, backend }, cached))
}

#[function_component(App)]
pub fn app() -> Html {
    let engine = use_state(|| None::<Rc<Engine>>);
    let weights = use_state(|| Weights::Loading { loaded: 0, total: None });
    let notice = use_state(|| None::<String>);
    let gallery = use_state(Vec::<Rc<Entry>>::new);
    let current = use_state(|| None::<Rc<Entry>>);
    let settings = use_state(default_settings);
    let analysis = use_state(|| None::<(u64, Rc<Analysis>)>);
    let factorization = use_state(|| None::<(Vec<Rc<Entry>>, Rc<xai_explain::Concepts>)>);
    let dff_picks = use_state(Vec::<u64>::new);
    let concept_only = use_state(|| None::<usize>);
    let status = use_state(|| Status::Loading);
    let error = use_state(|| None::<String>);
    let job = use_mut_ref(|| Cell::new(0u64));
    let next_photo_id = use_mut_ref(|| Cell::new(0u64));
    let (photo_canvas, overlay_canvas, dff_canvas) = (use_node_ref(), use_node_ref(), use_node_ref());

    // Shows a new photo: it joins the gallery and becomes the current one.
    let show_photo = {
        let (gallery, current, settings) = (gallery.clone(), current.clone(), settings.clone());
        Callback::from(move |entry: Rc<Entry>| {
            let mut photos: Vec<Rc<Entry>> = (*gallery).clone();
            photos.retain(|p| p.source != entry.source);
            photos.push(entry.clone());
            gallery.set(photos);
            settings.set(Settings { class: None, ..(*settings).clone() });
            current.set(Some(entry));
        })
    };
    let photo_id = {
        let next = next_photo_id.clone();
        move || {
            let id = next.borrow().get() + 1;
            next.borrow().set(id);
            id
        }
    };

    // A GPU that stops answering (a lost WebGPU device) hands the page to the CPU: the weights
    // come back from Cache Storage and the new engine re-runs the current photo. Only the first
    // of the jobs failing on that GPU moves the page.
    let moving_to_cpu = use_mut_ref(|| Cell::new(false));
    let on_device_failure = {
        let (engine, notice, error, status) = (engine.clone(), notice.clone(), error.clone(), status.clone());
        Callback::from(move |(backend, failure): (Backend, ReadbackError)| {
            if backend != Backend::WebGpu {
                error.set(Some(failure.to_string()));
                status.set(Status::Done);
                return;
            }
            if moving_to_cpu.borrow().replace(true) {
                return;
            }
            notice.set(Some(format!(
                "WebGPU stopped working ({}), so the page moved to the CPU. Expect seconds, not milliseconds.",
                failure.0
            )));
            status.set(Status::Loading);
            let (engine, error, status) = (engine.clone(), error.clone(), status.clone());
            spawn_local(async move {
                match load_engine(Device::flex(), Backend::Cpu, &|_, _| {}).await {
                    Ok((cpu, _)) => engine.set(Some(Rc::new(cpu))),
                    Err(e) => error.set(Some(format!("Could not move to the CPU: {e}"))),
                }
                status.set(Status::Idle);
            });
        })
    };

    // Weights, backend and a share link in the URL, once.
    {
        let (engine, weights, notice, status, error) =
            (engine.clone(), weights.clone(), notice.clone(), status.clone(), error.clone());
        let (show_photo, settings, photo_id) = (show_photo.clone(), settings.clone(), photo_id.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                let start = now_ms();
                let last = Cell::new(0u64);
                let progress = |loaded: u64, total: Option<u64>| {
                    // Re-render every 256 KB, not on every chunk.
                    if loaded - last.get() > 1 << 18 || Some(loaded) == total {
                        last.set(loaded);
                        weights.set(Weights::Loading { loaded, total });
                    }
                };
                let (device, backend, why_cpu) = pick_device().await;
                match load_engine(device, backend, &progress).await {
                    Ok((ready, cached)) => {
                        weights.set(Weights::Ready { ms: now_ms() - start, cached });
                        notice.set(why_cpu.map(|why| format!("Running on the CPU: {why}. Expect seconds, not milliseconds.")));
                        engine.set(Some(Rc::new(ready)));
                        status.set(Status::Idle);
                    }
                    Err(e) => {
                        weights.set(Weights::Failed(e.clone()));
                        error.set(Some(format!("Could not load the model: {e}")));
                        status.set(Status::Idle);
                        return;
                    }
                }
                let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
                if hash.len() > 1 {
                    let opened = async {
                        let link = Shared::from_fragment(&hash).map_err(|e| e.to_string())?;
                        let link_settings = settings_from_link(&link)?;
                        let entry = match &link.photo {
                            Photo::Demo(name) => photo::demo(photo_id(), name).await?,
                            Photo::Jpeg(bytes) => photo::from_jpeg(photo_id(), "shared photo", bytes.clone())?,
                        };
                        Ok::<_, String>((entry, link_settings))
                    };
                    match opened.await {
                        Ok((entry, link_settings)) => {
                            show_photo.emit(entry);
                            settings.set(link_settings);
                        }
                        Err(e) => error.set(Some(e)),
                    }
                }
            });
        });
    }

    // Analyse whenever the photo or the settings change; only the newest job's result shows.
    {
        let (analysis, status, error, job) = (analysis.clone(), status.clone(), error.clone(), job.clone());
        let on_device_failure = on_device_failure.clone();
        let deps = ((*engine).clone().map(|e| Rc::as_ptr(&e) as usize), (*current).clone(), (*settings).clone());
        let engine = (*engine).clone();
        use_effect_with(deps, move |(_, current, settings)| {
            if let (Some(engine), Some(entry)) = (engine, current.clone()) {
                let id = job.borrow().get() + 1;
                job.borrow().set(id);
                status.set(Status::Running);
                let settings = settings.clone();
                spawn_local(async move {
                    let result = engine.analyse(&entry.crop, &settings).await;
                    if job.borrow().get() != id {
                        return; // a newer photo or setting took over
                    }
                    match result {
                        Ok(result) => {
                            analysis.set(Some((entry.id, Rc::new(result))));
                            error.set(None);
                        }
                        Err(Failure::Device(failure)) => return on_device_failure.emit((engine.backend, failure)),
                        Err(Failure::Input(e)) => error.set(Some(format!("{}: {e}", entry.name))),
                    }
                    status.set(Status::Done);
                });
            }
        });
    }

    // Paint the canvases when their images change.
    {
        let (photo_canvas, overlay_canvas) = (photo_canvas.clone(), overlay_canvas.clone());
        let shown = (*current).clone().zip((*analysis).clone()).filter(|(p, (id, _))| p.id == *id);
        use_effect_with(shown, move |shown| {
            if let Some((photo, (_, result))) = shown {
                if let Some(canvas) = photo_canvas.cast::<HtmlCanvasElement>() {
                    paint(&canvas, &image::DynamicImage::from(photo.crop.clone()).to_rgba8());
                }
                if let Some(canvas) = overlay_canvas.cast::<HtmlCanvasElement>() {
                    paint(&canvas, &result.overlay);
                }
            }
        });
    }
    {
        let dff_canvas = dff_canvas.clone();
        use_effect_with(((*factorization).clone(), *concept_only), move |(factorization, only)| {
            if let (Some((photos, result)), Some(canvas)) = (factorization, dff_canvas.cast::<HtmlCanvasElement>()) {
                let crops: Vec<_> = photos.iter().map(|p| p.crop.clone()).collect();
                paint(&canvas, &dff_composite(&crops, result, *only));
            }
        });
    }

    let on_demo = |name: &'static str| {
        let (show_photo, error, photo_id) = (show_photo.clone(), error.clone(), photo_id.clone());
        Callback::from(move |_| {
            let (show_photo, error, photo_id) = (show_photo.clone(), error.clone(), photo_id.clone());
            spawn_local(async move {
                match photo::demo(photo_id(), name).await {
                    Ok(entry) => show_photo.emit(entry),
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let open_files = {
        let (show_photo, error, photo_id) = (show_photo.clone(), error.clone(), photo_id.clone());
        Callback::from(move |files: web_sys::FileList| {
            let Some(file) = files.get(0) else { return };
            let (show_photo, error, photo_id) = (show_photo.clone(), error.clone(), photo_id.clone());
            spawn_local(async move {
                let name = file.name();
                // Refuse absurd files before reading them into memory.
                if file.size() > 200e6 {
                    error.set(Some(format!("{name}: the file is over 200 MB")));
                    return;
                }
                let opened = match file_bytes(&file).await {
                    Ok(bytes) => photo::upload(photo_id(), &name, &bytes),
                    Err(e) => Err(format!("{name}: {e}")),
                };
                match opened {
                    Ok(entry) => show_photo.emit(entry),
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let on_upload = {
        let open_files = open_files.clone();
        Callback::from(move |event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            if let Some(files) = input.files() {
                open_files.emit(files);
            }
            input.set_value("");
        })
    };
    let on_drop = {
        let open_files = open_files.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            if let Some(files) = event.data_transfer().and_then(|d| d.files()) {
                open_files.emit(files);
            }
        })
    };
    // Paste anywhere on the page.
    {
        let open_files = open_files.clone();
        use_effect_with((), move |_| {
            let listener = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::ClipboardEvent)>::new(move |event: web_sys::ClipboardEvent| {
                if let Some(files) = event.clipboard_data().and_then(|d| d.files()).filter(|f| f.length() > 0) {
                    open_files.emit(files);
                }
            });
            let window = web_sys::window().expect("a window");
            let _ = window.add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
            move || {
                let _ = window.remove_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
            }
        });
    }

    let set = |update: fn(&mut Settings, String)| {
        let settings = settings.clone();
        Callback::from(move |event: Event| {
            let mut next = (*settings).clone();
            let value = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlSelectElement>().map(|s| s.value()).or_else(|t| t.dyn_into::<HtmlInputElement>().map(|i| i.value())).ok())
                .unwrap_or_default();
            update(&mut next, value);
            settings.set(next);
        })
    };
    let on_method = set(|s, v| s.method = v);
    let on_layer = set(|s, v| s.layer = v.parse().unwrap_or(s.layer));
    let on_colormap = set(|s, v| s.colormap = v.parse().unwrap_or(s.colormap));
    let on_opacity = set(|s, v| s.opacity = v.parse().unwrap_or(s.opacity));
    let on_k = set(|s, v| s.k = v.parse().unwrap_or(s.k));

    let on_factorize = {
        let (engine, gallery, current, picks, settings) =
            (engine.clone(), gallery.clone(), current.clone(), dff_picks.clone(), settings.clone());
        let (factorization, concept_only, error, status) =
            (factorization.clone(), concept_only.clone(), error.clone(), status.clone());
        let on_device_failure = on_device_failure.clone();
        Callback::from(move |_| {
            let Some(engine) = (*engine).clone() else { return };
            let mut photos: Vec<Rc<Entry>> = gallery.iter().filter(|p| picks.contains(&p.id)).cloned().collect();
            if photos.is_empty() {
                photos.extend((*current).clone());
            }
            if photos.is_empty() {
                return;
            }
            let (factorization, concept_only, error, status, k) =
                (factorization.clone(), concept_only.clone(), error.clone(), status.clone(), settings.k);
            let on_device_failure = on_device_failure.clone();
            status.set(Status::Running);
            spawn_local(async move {
                let crops: Vec<_> = photos.iter().map(|p| p.crop.clone()).collect();
                match engine.factorize(&crops, k).await {
                    Ok(result) => {
                        concept_only.set(None);
                        factorization.set(Some((photos, Rc::new(result))));
                    }
                    Err(Failure::Device(failure)) => return on_device_failure.emit((engine.backend, failure)),
                    Err(Failure::Input(e)) => error.set(Some(e)),
                }
                status.set(Status::Done);
            });
        })
    };

    let shown = (*current).clone().zip((*analysis).clone()).filter(|(p, (id, _))| p.id == *id).map(|(p, (_, a))| (p, a));
    let share_href = shown.as_ref().map(|(photo, result)| {
        let link = Shared {
            photo: photo.source.clone(),
            method: settings.method.clone(),
            layer: settings.layer.to_string(),
            class: settings.class.or(Some(result.class)),
            colormap: settings.colormap.name().into(),
            opacity: settings.opacity,
            k: settings.k,
        };
        let location = web_sys::window().map(|w| w.location());
        let base = location.and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))).unwrap_or_default();
        format!("{base}#{}", link.to_fragment())
    });

    let weights_view = match &*weights {
        Weights::Loading { loaded, total } => {
            let percent = total.map(|t| 100.0 * *loaded as f64 / t.max(1) as f64);
            html! {
                <div class="weights">
                    <progress max="100" value={percent.unwrap_or(0.0).to_string()} aria-label="weights download"></progress>
                    { format!(" Loading the model: {:.1} MB{}", *loaded as f64 / 1e6,
                        percent.map(|p| format!(" ({p:.0}%)")).unwrap_or_default()) }
                </div>
            }
        }
        Weights::Ready { ms, cached } => html! {
            <div class="weights">{ format!("Model ready in {:.0} ms{}", ms, if *cached { " (from this browser's cache)" } else { "" }) }</div>
        },
        Weights::Failed(_) => html! {},
    };

    let top5_view = shown.as_ref().map(|(_, result)| {
        html! {
            <ol data-testid="top5" class="top5">
            { for result.top5.iter().map(|p| {
                let settings = settings.clone();
                let class = p.class;
                let chosen = result.class == class;
                html! {
                    <li>
                        <button class={classes!("class", chosen.then_some("chosen"))} aria-pressed={chosen.to_string()}
                            onclick={Callback::from(move |_| settings.set(Settings { class: Some(class), ..(*settings).clone() }))}>
                            <span class="bar" style={format!("width: {:.1}%", 100.0 * p.prob)}></span>
                            <span class="label">{ format!("{} {:.1}%", p.label.replace('_', " "), 100.0 * p.prob) }</span>
                        </button>
                    </li>
                }
            }) }
            </ol>
        }
    });

    let download_overlay = {
        let canvas = overlay_canvas.clone();
        Callback::from(move |_| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                download(&c, "xai-lens-overlay.png");
            }
        })
    };
    let download_dff = {
        let canvas = dff_canvas.clone();
        Callback::from(move |_| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                download(&c, "xai-lens-concepts.png");
            }
        })
    };
    let download_report = {
        let (shown, settings) = (shown.clone(), settings.clone());
        Callback::from(move |_| {
            let Some((photo, result)) = &shown else { return };
            let mut lines: Vec<String> = result.top5.iter().map(|p| format!("{:5.1}%  {}", 100.0 * p.prob, p.label)).collect();
            lines.push(format!("{} at {}, class {}; xai-lens, Keras ResNet-50 (int8)", settings.method, settings.layer, result.class));
            let photo_rgba = image::DynamicImage::from(photo.crop.clone()).to_rgba8();
            if let Some(card) = report_card(&photo_rgba, &result.overlay, &lines) {
                download(&card, "xai-lens-report.png");
            }
        })
    };

    let backend_name = engine.as_ref().map(|e| e.backend.name()).unwrap_or("");
    let method_names = xai_explain::method_names();
    html! {
        <main ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}>
            <header>
                <h1>{ "xai-lens" }</h1>
                <p>{ "What a real ImageNet ResNet-50 sees in your photo. Everything runs in this browser; your photos never leave it." }</p>
                <p class="meta">
                    { "Backend: " }<strong data-testid="backend">{ backend_name }</strong>
                    { " · Status: " }<span data-testid="status" data-job={job.borrow().get().to_string()}>{ status.name() }</span>
                </p>
                if let Some(text) = &*notice { <p class="notice" role="status">{ text }</p> }
                { weights_view }
                <div data-testid="error" class="error" role="alert" hidden={error.is_none()}>{ (*error).clone().unwrap_or_default() }</div>
            </header>

            <section class="pick" aria-label="Choose a photo">
                { for DEMOS.iter().map(|name| html! {
                    <button data-testid={format!("demo-{name}")} onclick={on_demo(name)} disabled={engine.is_none()}>
                        <img src={format!("demo/{name}.png")} alt={format!("demo photo: {name}")} width="64" height="64"/>
                        <span>{ name }</span>
                    </button>
                }) }
                <label class="upload">
                    { "Your photo (or drop / paste it here): " }
                    <input data-testid="upload" type="file" accept="image/*" onchange={on_upload} disabled={engine.is_none()}/>
                </label>
            </section>

            <section class="controls" aria-label="Explanation settings">
                <label>{ "Method " }
                    <select data-testid="method" onchange={on_method}>
                        { for method_names.iter().map(|m| html! { <option value={*m} selected={settings.method == *m}>{ *m }</option> }) }
                    </select>
                </label>
                <label>{ "Layer " }
                    <select data-testid="layer" onchange={on_layer}>
                        { for Layer::ALL.iter().map(|l| html! { <option value={l.to_string()} selected={settings.layer == *l}>{ l.to_string() }</option> }) }
                    </select>
                </label>
                <label>{ "Colormap " }
                    <select data-testid="colormap" onchange={on_colormap}>
                        { for Colormap::ALL.iter().map(|c| html! { <option value={c.name()} selected={settings.colormap == *c}>{ c.name() }</option> }) }
                    </select>
                </label>
                <label>{ "Opacity " }
                    <input data-testid="opacity" type="range" min="0" max="100" value={settings.opacity.to_string()} onchange={on_opacity}/>
                </label>
            </section>

            <section class="result" aria-label="Result">
                <div class="images">
                    <figure><canvas ref={photo_canvas} data-testid="photo" role="img" aria-label="the photo, cropped to 224x224"></canvas><figcaption>{ "Photo" }</figcaption></figure>
                    <figure><canvas ref={overlay_canvas} data-testid="overlay" role="img" aria-label="heatmap of what the network looked at, over the photo"></canvas><figcaption>{ "Explanation" }</figcaption></figure>
                </div>
                if let Some((_, result)) = &shown {
                    <p data-testid="prediction" class="prediction">{ result.top5[0].label.replace('_', " ") }</p>
                    { top5_view.unwrap_or_default() }
                    <p class="timings">{ format!("Classes after {:.0} ms · heatmap after {:.0} ms", result.logits_ms, result.heatmap_ms) }</p>
                    <p class="actions">
                        <a data-testid="share" href={share_href.clone().unwrap_or_default()}>{ "Share link" }</a>
                        <button onclick={download_overlay}>{ "Download overlay" }</button>
                        <button onclick={download_report}>{ "Download report card" }</button>
                    </p>
                }
            </section>

            <section class="dff" aria-label="Deep Feature Factorization">
                <h2>{ "Concepts (Deep Feature Factorization)" }</h2>
                <p>{ "Split the network's last features into concepts; pick several photos to find the concepts they share." }</p>
                <div class="gallery">
                    { for gallery.iter().map(|p| {
                        let (picks, id) = (dff_picks.clone(), p.id);
                        let checked = picks.contains(&id);
                        html! {
                            <label><input type="checkbox" checked={checked} onchange={Callback::from(move |_| {
                                let mut next = (*picks).clone();
                                if let Some(i) = next.iter().position(|x| *x == id) { next.remove(i); } else { next.push(id); }
                                picks.set(next);
                            })}/>{ format!(" {}", p.name) }</label>
                        }
                    }) }
                </div>
                <label>{ format!("k = {} ", settings.k) }
                    <input type="range" min="1" max="16" value={settings.k.to_string()} onchange={on_k} aria-label="number of concepts"/>
                </label>
                <button onclick={on_factorize} disabled={engine.is_none() || gallery.is_empty()}>{ "Find concepts" }</button>
                <div><canvas ref={dff_canvas} data-testid="dff" role="img" aria-label="each region coloured by its concept"></canvas></div>
                if let Some((_, result)) = &*factorization {
                    <ul class="legend">
                        { for result.concepts.iter().zip(concept_colours(result.concepts.len())).enumerate().map(|(i, (c, colour))| {
                            let only = concept_only.clone();
                            let labels: Vec<String> = c.labels.iter().map(|(l, p)| format!("{} {:.0}%", l.replace('_', " "), 100.0 * p)).collect();
                            html! {
                                <li><button aria-pressed={(*only == Some(i)).to_string()} onclick={Callback::from(move |_| only.set(if *only == Some(i) { None } else { Some(i) }))}>
                                    <span class="swatch" style={format!("background: rgb({},{},{})", colour[0], colour[1], colour[2])}></span>
                                    { format!("{} · {:.0}% of the photo", labels.join(", "), 100.0 * c.share) }
                                </button></li>
                            }
                        }) }
                    </ul>
                    <button onclick={download_dff}>{ "Download concepts" }</button>
                }
            </section>
        </main>
    }
}
