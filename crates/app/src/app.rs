//! The page: one [`AppState`] behind `use_reducer`, the model's handle, the effects that start
//! jobs when what the network must compute changes, and the layout of the components.

use std::rc::Rc;

use web_sys::DragEvent;
use yew::prelude::*;

use crate::components::audit::AuditPanel;
use crate::components::compare::ComparePanel;
use crate::components::concepts::ConceptsPanel;
use crate::components::controls::Controls;
use crate::components::header::Header;
use crate::components::models::ModelsPanel;
use crate::components::picker::PhotoPicker;
use crate::components::result::ResultView;
use crate::components::sanity::SanityPanel;
use crate::engine::Engine;
use crate::jobs::{Jobs, JobsMemory};
use crate::report::Report;
use crate::state::{model_name, Action, AppState, CompareKey, FactorizeKey, GalleryPhoto, ModelState};

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        self.after(action)
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(AppState::default);
    let engine = use_state(|| None::<Rc<Engine>>);
    let memory = use_memo((), |_| JobsMemory::default());
    let jobs = Jobs::new(state.dispatcher(), engine.clone(), Rc::clone(&memory));

    {
        let jobs = jobs.clone();
        use_effect_with((), move |_| jobs.start());
    }
    // The network runs when the photo, the question or the model changes, never for a repaint,
    // nor for the question answered last (a cancel goes back to it); an analysis still running
    // answers another question then, and stops.
    {
        let (jobs, engine, photo, answered) =
            (jobs.clone(), (*engine).clone(), state.current.clone(), state.answered.clone());
        use_effect_with(state.analysis_key(), move |key| match (key.clone(), engine, photo) {
            (Some(key), Some(engine), Some(photo)) if answered.as_ref() != Some(&key) => {
                jobs.analyse(engine, photo, key)
            }
            _ => jobs.stop_analysis(),
        });
    }

    // A comparison or a sanity check answers the photo, layer and class it started with:
    // another question stops it.
    {
        let (jobs, comparing, checking) = (jobs.clone(), state.comparing.clone(), state.checking.clone());
        use_effect_with(state.compare_key(), move |key| {
            if let Some(running) = comparing.filter(|k| Some(k) != key.as_ref()) {
                jobs.cancel_compare(running);
            }
            if let Some((running, _)) = checking.filter(|(k, _)| Some(k) != key.as_ref()) {
                jobs.cancel_sanity(running);
            }
        });
    }

    let dispatch = {
        let state = state.clone();
        Callback::from(move |action: Action| state.dispatch(action))
    };
    let on_factorize = {
        let (jobs, engine, state) = (jobs.clone(), (*engine).clone(), state.clone());
        Callback::from(move |()| {
            let (Some(engine), photos) = (engine.clone(), state.dff_photos()) else { return };
            if !photos.is_empty() {
                jobs.factorize(engine, FactorizeKey { model: state.model_number, photos, k: state.k });
            }
        })
    };
    let on_cancel_factorize = {
        let (jobs, factorizing) = (jobs.clone(), state.factorizing.clone());
        Callback::from(move |()| {
            if let Some((key, _)) = factorizing.clone() {
                jobs.cancel_factorize(key);
            }
        })
    };
    // A job on the current photo, layer and class (the compare view's and the sanity check's).
    let on_current = |job: fn(&Jobs, Rc<Engine>, Rc<GalleryPhoto>, CompareKey)| {
        let (jobs, engine, state) = (jobs.clone(), (*engine).clone(), state.clone());
        Callback::from(move |()| {
            if let (Some(engine), Some(photo), Some(key)) = (engine.clone(), state.current.clone(), state.compare_key())
            {
                job(&jobs, engine, photo, key);
            }
        })
    };
    let on_compare = on_current(Jobs::compare);
    let on_cancel_compare = {
        let (jobs, comparing) = (jobs.clone(), state.comparing.clone());
        Callback::from(move |()| {
            if let Some(key) = comparing.clone() {
                jobs.cancel_compare(key);
            }
        })
    };
    let on_check_sanity = on_current(Jobs::check_sanity);
    let on_own_passes = {
        let (jobs, engine, state) = (jobs.clone(), (*engine).clone(), state.clone());
        Callback::from(move |()| {
            if let (Some(engine), Some(photo), Some(comparison)) =
                (engine.clone(), state.current.clone(), state.compared())
            {
                jobs.compare_own_passes(engine, photo, comparison, comparison.missing_own_passes(state.tail()));
            }
        })
    };
    // A share link made with the comparison open opens it again, once the photo is explained.
    {
        let on_compare = on_compare.clone();
        let wanted = state.compare_on_open && state.shown().is_some() && engine.is_some();
        use_effect_with(wanted, move |wanted| {
            if *wanted {
                on_compare.emit(());
            }
        });
    }
    let on_cancel_sanity = {
        let (jobs, checking) = (jobs.clone(), state.checking.clone());
        Callback::from(move |()| {
            if let Some((key, _)) = checking.clone() {
                jobs.cancel_sanity(key);
            }
        })
    };
    // The evidence of what the compare view and the sanity checks show now.
    let on_report = {
        let (engine, state) = ((*engine).clone(), state.clone());
        Callback::from(move |()| {
            let (Some(engine), Some(photo)) = (engine.as_deref(), state.current.as_deref()) else { return };
            let (comparison, sanity) = (state.compared().map(|c| &**c), state.checked().map(|s| &**s));
            Report { engine, photo, comparison, sanity }.download(state.look, &model_name(state.using.as_ref()));
        })
    };
    let on_drop = {
        let jobs = jobs.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            if let Some(files) = event.data_transfer().and_then(|d| d.files()) {
                jobs.open_files(files);
            }
        })
    };
    let on_folder = {
        let jobs = jobs.clone();
        Callback::from(move |folder| jobs.audit(folder))
    };
    // Not while another model loads: a job started then would run on the one going away.
    let ready = engine.is_some() && matches!(state.model, ModelState::Ready { .. });
    html! {
        <main ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}>
            <Header model={state.model.clone()} using={state.using.clone()} wanted={state.wanted.clone()}
                wanted_kept={state.wanted.as_ref().is_some_and(|w| state.own_models.iter().any(|m| m.sha256 == w.sha256))}
                status={state.status()} jobs={state.jobs}
                notice={state.notice.clone()} model_notice={state.model_notice.clone()}
                link_notice={state.link_notice.clone()} error={state.error.clone()} />
            <div class="dashboard">
                <div class="side">
                    <PhotoPicker enabled={ready} on_demo={Callback::from({ let jobs = jobs.clone(); move |name| jobs.open_demo(name) })}
                        on_files={Callback::from({ let jobs = jobs.clone(); move |files| jobs.open_files(files) })} />
                    <Controls question={state.question.clone()} layers={state.layers.clone()} tail={state.tail()} look={state.look} others={state.contrast_classes()} dispatch={dispatch.clone()} />
                    <ModelsPanel own_models={state.own_models.clone()} using={state.using.clone()}
                        conversion={state.conversion.clone()} enabled={ready}
                        on_use={Callback::from({ let jobs = jobs.clone(); move |own| jobs.use_model(own) })}
                        on_add={Callback::from({ let jobs = jobs.clone(); move |(model, labels, options)| jobs.add_model(model, labels, options) })}
                        on_cancel={Callback::from({ let jobs = jobs.clone(); move |()| jobs.cancel_conversion() })}
                        on_delete={Callback::from({ let jobs = jobs.clone(); move |model| jobs.delete_model(model) })} />
                </div>
                <ResultView photo={state.current.clone()} shown={state.photo_answer().cloned()} question={state.question.clone()}
                    look={state.look} share={state.share_fragment()} model={model_name(state.using.as_ref())}
                    on_class={dispatch.reform(|class| Action::SetClass(Some(class)))}
                    progress={state.analysis_progress()} on_cancel={dispatch.reform(|()| Action::CancelAnalysis)} />
            </div>
            <ComparePanel photo={state.current.clone()} comparison={state.compared().cloned()} running={state.comparing.is_some()}
                progress={state.compare_progress} on_own_passes={on_own_passes} tail={state.tail()}
                sort={state.sort} look={state.look} enabled={ready} dispatch={dispatch.clone()}
                on_compare={on_compare} on_cancel={on_cancel_compare} on_report={on_report.clone()} />
            <SanityPanel report={state.checked().cloned()} running={state.checking.as_ref().map(|(_, done)| *done)}
                cascade={xai_model::architecture::cascade(state.last_layer())}
                enabled={ready && state.current.is_some()} on_check={on_check_sanity} on_cancel={on_cancel_sanity}
                on_report={on_report} />
            <ConceptsPanel gallery={state.gallery.clone()} picks={state.picks.clone()} k={state.k}
                found={state.concepts.clone()} shown={state.concept_shown} enabled={ready}
                progress={state.factorizing.as_ref().map(|(key, done)| (*done, key.photos.len()))}
                dispatch={dispatch.clone()} on_factorize={on_factorize} on_cancel={on_cancel_factorize} />
            <AuditPanel audit={state.audit.clone()} enabled={ready} on_folder={on_folder}
                on_cancel={Callback::from({ let jobs = jobs.clone(); move |run| jobs.cancel_audit(run) })}
                on_open={Callback::from({ let jobs = jobs.clone(); move |path: String| jobs.open_audited(&path) })}
                on_error={dispatch.reform(Action::Error)} />
        </main>
    }
}
