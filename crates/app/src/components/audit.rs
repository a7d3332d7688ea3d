//! The folder audit: a folder picked or dropped, its progress (photos done, per second, time
//! left, cancel), and its report: accuracy, the most confused pairs, the most confident mistakes
//! and least confident right answers with their overlays, each class's shared concepts, and every
//! photo in a table to filter and sort. Clicking a photo opens it above; the report downloads as
//! HTML or JSON lines, as `xai audit` writes them.

use std::rc::Rc;

use web_sys::{DragEvent, HtmlInputElement};
use xai_audit::table::{cells, class_name as name, matching_text, shown_rows, COLUMNS, ROWS_SHOWN};
use xai_audit::{counted, Photo, CLASS_CONCEPTS};
use xai_explain::render::concept_colours;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::use_focus_handoff;
use crate::canvas::download_text;
use crate::folder::{dropped, folder_files, picked, Dropped, Folder};
use crate::state::{Audit, AuditStage};

#[derive(Properties, PartialEq)]
pub struct AuditProps {
    pub audit: Option<Rc<Audit>>,
    pub enabled: bool,
    /// A folder to audit.
    pub on_folder: Callback<Folder>,
    pub on_cancel: Callback<u64>,
    /// Opens one of the folder's photos (by path) in the single-photo view.
    pub on_open: Callback<String>,
    /// A dropped folder that could not be read.
    pub on_error: Callback<String>,
}

fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s))
}

#[function_component(AuditPanel)]
pub fn audit_panel(props: &AuditProps) -> Html {
    let filter = use_state(String::new);
    let (pick, cancel) = use_focus_handoff(props.audit.as_ref().is_some_and(|a| a.running()));
    // The column sorted by, and whether the order is reversed.
    let sort = use_state(|| (0usize, false));
    let on_pick = props.on_folder.reform(|event: Event| {
        let input: HtmlInputElement = event.target_unchecked_into();
        let mut folder = input.files().map(|files| picked(&files)).unwrap_or_default();
        input.set_value("");
        if folder.name.is_empty() {
            folder.name = "chosen files".into();
        }
        folder
    });
    let on_drop = {
        let (on_folder, on_error, enabled) = (props.on_folder.clone(), props.on_error.clone(), props.enabled);
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            event.stop_propagation();
            let Some(transfer) = event.data_transfer().filter(|_| enabled) else { return };
            match dropped(&transfer) {
                Dropped::Files(files) => on_folder.emit(Folder { name: "dropped files".into(), ..files }),
                Dropped::Folder(directory) => {
                    let (on_folder, on_error) = (on_folder.clone(), on_error.clone());
                    spawn_local(async move {
                        match folder_files(&directory).await {
                            Ok(found) => on_folder.emit(found),
                            Err(error) => on_error.emit(format!("The dropped folder could not be read: {error}")),
                        }
                    });
                }
            }
        })
    };
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |event: InputEvent| filter.set(event.target_unchecked_into::<HtmlInputElement>().value()))
    };
    html! {
        <section class="audit panel" aria-labelledby="audit-title">
            <h2 id="audit-title">{ "Audit a folder" }</h2>
            <p class="hint">{ "Classify a whole folder of photos, here in the browser. Photos in subfolders named after \
                classes (cats/tabby/1.jpg: the ImageFolder layout) are checked against that class: accuracy, the \
                classes the model confuses, its most confident mistakes, and the concepts each class's photos share." }</p>
            <div class="drop-folder" ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}
                data-testid="audit-drop">
                <label>
                    { "Pick a folder, or drop one here: " }
                    <input data-testid="audit-folder" ref={pick} type="file" webkitdirectory=true multiple=true onchange={on_pick}
                        disabled={!props.enabled} />
                </label>
            </div>
            if let Some(audit) = &props.audit {
                { progress(audit, &props.on_cancel, cancel) }
                { summary(audit, props) }
                { table(audit, &filter, &sort, on_filter, &props.on_open) }
            }
        </section>
    }
}

fn progress(audit: &Audit, on_cancel: &Callback<u64>, cancel: NodeRef) -> Html {
    let done = audit.report.photos.len();
    let text = match &audit.stage {
        AuditStage::Classifying => format!(
            "{done} of {}, {:.1} photos/s, {} left",
            counted(audit.total, "photo", "photos"),
            audit.rate(),
            audit.seconds_left().map_or("…".into(), |s| format!("{s:.0} s"))
        ),
        AuditStage::Explaining { classes_done, classes } => format!(
            "{} in {:.1} s ({:.1} photos/s); overlays, then concepts: {classes_done} of {}",
            counted(done, "photo", "photos"),
            (audit.latest_ms - audit.started_ms) / 1000.0,
            audit.rate(),
            counted(*classes, "class", "classes")
        ),
        AuditStage::Done => format!(
            "{} of {} classified in {:.1} s ({:.1} photos/s)",
            counted(done, "photo", "photos"),
            audit.folder,
            (audit.latest_ms - audit.started_ms) / 1000.0,
            audit.rate()
        ),
        AuditStage::Cancelled => format!("Cancelled after {done} of {}", counted(audit.total, "photo", "photos")),
        AuditStage::Stopped(why) => format!("Stopped after {}: {why}", counted(done, "photo", "photos")),
    };
    let run = audit.run;
    html! {
        <p class="actions" role="status">
            if audit.running() {
                <progress max={audit.total.max(1).to_string()} value={done.to_string()} aria-label="photos classified"></progress>
            }
            <span data-testid="audit-progress">{ format!(" {text} ") }</span>
            if audit.running() {
                <button data-testid="audit-cancel" ref={cancel} onclick={on_cancel.reform(move |_| run)}>{ "Cancel" }</button>
            }
        </p>
    }
}

fn summary(audit: &Rc<Audit>, props: &AuditProps) -> Html {
    let (report, labels) = (&audit.report, &*audit.labels);
    let shot = |photo: &Photo| {
        let first = &photo.top5[0];
        let on_open = props.on_open.clone();
        let path = photo.path.clone();
        html! {
            <figure>
                <button class="open" onclick={move |_| on_open.emit(path.clone())} title="Open in the single-photo view">
                    if let Some(url) = audit.pictures.overlays.get(&photo.path) {
                        <img src={url.clone()} alt={format!("Grad-CAM of {}", first.label)} width="140" height="140" />
                    }
                    <figcaption>
                        { &photo.path }<br/>
                        { format!("{} {:.1}% (true: {})", name(labels, first.class), 100.0 * first.prob,
                            photo.truth.map_or(String::new(), |c| name(labels, c))) }
                    </figcaption>
                </button>
            </figure>
        }
    };
    let colours = concept_colours(CLASS_CONCEPTS);
    let on_html = {
        let audit = audit.clone();
        Callback::from(move |_| {
            let title = format!("xai-lens audit of {}", audit.folder);
            let html = xai_audit::html::render(&audit.report, &audit.labels, &title, &audit.pictures);
            download_text(&html, "text/html", "xai-lens-audit.html");
        })
    };
    let on_json = {
        let audit = audit.clone();
        Callback::from(move |_| {
            download_text(&audit.report.json_lines(), "application/x-ndjson", "xai-lens-audit.jsonl")
        })
    };
    let (confusions, mistakes, unsure) =
        (report.confusions(), report.confident_mistakes(), report.unsure_right_answers());
    html! {
        <>
            <p data-testid="audit-accuracy">
                { format!("{}, {} with a true class from their folder, {} could not be read. ",
                    counted(report.photos.len(), "photo", "photos"), report.labelled_count(), report.bad().count()) }
                <strong>{ format!("Accuracy {}", percent(report.accuracy())) }</strong>
                { format!(", top-5 accuracy {}.", percent(report.top5_accuracy())) }
            </p>
            if !audit.running() {
                <p class="actions">
                    <button data-testid="audit-html" onclick={on_html}>{ "Download report (HTML)" }</button>
                    <button data-testid="audit-json" onclick={on_json}>{ "Download JSON lines" }</button>
                </p>
            }
            if !confusions.is_empty() {
                <h3>{ "Most confused" }</h3>
                <table data-testid="audit-confusions">
                    <thead><tr><th scope="col">{ "true class" }</th><th scope="col">{ "taken for" }</th><th scope="col">{ "photos" }</th></tr></thead>
                    <tbody>
                        { for confusions.iter().map(|c| html! {
                            <tr><td>{ name(labels, c.truth) }</td><td>{ name(labels, c.predicted) }</td><td>{ c.count }</td></tr>
                        }) }
                    </tbody>
                </table>
            }
            if !mistakes.is_empty() {
                <h3>{ "The most confident mistakes" }</h3>
                <div class="shots" data-testid="audit-mistakes">{ for mistakes.into_iter().map(&shot) }</div>
            }
            if !unsure.is_empty() {
                <h3>{ "The least confident right answers" }</h3>
                <div class="shots">{ for unsure.into_iter().map(&shot) }</div>
            }
            if !report.concepts.is_empty() {
                <h3>{ "What the photos of each class share" }</h3>
                { for report.concepts.iter().map(|class| html! {
                    <div class="class-concepts" data-testid={format!("audit-concepts-{}", class.class)}>
                        <h4>{ format!("{} ({} photos)", name(labels, class.class), class.photos.len()) }</h4>
                        <ul class="legend">
                            { for class.concepts.iter().zip(&colours).enumerate().map(|(k, (concept, colour))| {
                                let words: Vec<String> = concept.labels.iter()
                                    .map(|(l, p)| format!("{} {:.0}%", l.replace('_', " "), 100.0 * p)).collect();
                                html! {
                                    <li>
                                        if let Some(url) = audit.pictures.regions.get(&(class.class, k)) {
                                            <img src={url.clone()} alt="" width="72" height="72" />
                                        }
                                        <span class="swatch" style={format!("background: rgb({},{},{})", colour[0], colour[1], colour[2])}></span>
                                        { format!("{} · {:.0}% of the photos, strongest in {}", words.join(", "), 100.0 * concept.share, concept.example) }
                                    </li>
                                }
                            }) }
                        </ul>
                    </div>
                }) }
            }
            if report.bad().next().is_some() || !report.notes.is_empty() {
                <h3>{ "Not classified, and notes" }</h3>
                <ul data-testid="audit-notes">
                    { for report.bad().map(|p| html! { <li class="bad">{ format!("{}: {}", p.path, p.error.as_deref().unwrap_or_default()) }</li> }) }
                    { for report.notes.iter().map(|note| html! { <li>{ note }</li> }) }
                </ul>
            }
        </>
    }
}

/// Every photo read, filtered by the text typed and sorted by the column clicked.
fn table(
    audit: &Audit,
    filter: &UseStateHandle<String>,
    sort: &UseStateHandle<(usize, bool)>,
    on_filter: Callback<InputEvent>,
    on_open: &Callback<String>,
) -> Html {
    let (column, reversed) = **sort;
    let (matching, rows) = shown_rows(&audit.report, &audit.labels, filter, column, reversed, ROWS_SHOWN);
    let heading = |(i, title): (usize, &&str)| {
        let sort = sort.clone();
        let marker = match *sort {
            (c, false) if c == i => " ▲",
            (c, true) if c == i => " ▼",
            _ => "",
        };
        html! {
            <th scope="col">
                <button class="sort" onclick={move |_| sort.set((i, sort.0 == i && !sort.1))}>{ format!("{title}{marker}") }</button>
            </th>
        }
    };
    html! {
        <>
            <h3>{ "Every photo" }</h3>
            <p>
                <input data-testid="audit-filter" placeholder="filter" aria-label="filter the photos" value={(**filter).clone()}
                    oninput={on_filter} />
                { format!(" {}", matching_text(matching)) }
            </p>
            <div class="table-scroll">
                <table data-testid="audit-table">
                    <thead><tr>{ for COLUMNS.iter().enumerate().map(heading) }</tr></thead>
                    <tbody>
                        { for rows.into_iter().map(|photo| {
                            let (on_open, path) = (on_open.clone(), photo.path.clone());
                            let [path_cell, rest @ ..] = cells(photo, &audit.labels);
                            html! {
                                <tr>
                                    <td><button class="open" onclick={move |_| on_open.emit(path.clone())}>{ path_cell }</button></td>
                                    { for rest.into_iter().map(|c| html! { <td>{ c }</td> }) }
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </>
    }
}
