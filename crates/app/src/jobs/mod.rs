//! The page's asynchronous work, each job reporting through [`Action`]s (the state decides
//! whether a result is still wanted): models (`models`: loading the built-in one or the
//! visitor's own, moving to the CPU when WebGPU fails, converting and keeping own models),
//! photos (`photos`: opening, analysing, factorising), the compare view (`compare`), the sanity
//! checks (`sanity`) and the folder audit (`audit`). Here: what they share.

mod audit;
mod compare;
mod models;
mod photos;
mod sanity;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen_futures::JsFuture;
use xai_explain::channels::ChannelByChannel;
use xai_explain::Analysis;
use yew::{UseReducerDispatcher, UseStateHandle};

use crate::engine::{Engine, Failure};
use crate::state::{Action, AppState};

pub const WEIGHTS_URL: &str = "resnet50-int8.safetensors";

/// Lets the browser paint what was dispatched before a step that holds the thread. A visible
/// page waits a frame's time on a timer; a hidden one has nothing to paint, and browsers hold its
/// timers back (to a second, then a minute), so it only lets other tasks run, through a message
/// to itself, which no browser throttles: a long job goes on at full speed in a background tab.
async fn let_the_page_paint() {
    let hidden = web_sys::window().and_then(|window| window.document()).is_some_and(|document| document.hidden());
    let channel = if hidden { web_sys::MessageChannel::new().ok() } else { None };
    let promise = js_sys::Promise::new(&mut |resolve, _| match &channel {
        Some(channel) => {
            channel.port1().set_onmessage(Some(&resolve));
            if channel.port2().post_message(&wasm_bindgen::JsValue::UNDEFINED).is_err() {
                let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
            }
        }
        None => {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20);
            }
        }
    });
    let _ = JsFuture::from(promise).await;
    // A started port stays alive while its pair does: closed, the channel can be collected.
    if let Some(channel) = channel {
        channel.port1().close();
    }
}

/// The number of a new run of the jobs `runs` counts: a newer run, or a cancel, moves the count
/// on, and a run that sees another number stops.
fn new_run(runs: &Cell<u64>) -> u64 {
    runs.set(runs.get() + 1);
    runs.get()
}

/// Runs a method with passes of its own (Score-CAM, Ablation-CAM) to its end, a batch of
/// channels at a time: `progress` hears how many are done before each batch, and the page paints
/// (and takes a click) in between. `None` when `current` says the run was cancelled or replaced.
async fn channel_by_channel(
    mut steps: ChannelByChannel<'_>,
    progress: impl Fn(usize, usize),
    current: &dyn Fn() -> bool,
) -> Result<Option<Analysis>, Failure> {
    loop {
        let (done, of) = steps.progress();
        progress(done, of);
        let_the_page_paint().await;
        if !current() {
            return Ok(None);
        }
        if let Some(analysis) = steps.step().await? {
            return Ok(Some(analysis));
        }
    }
}

/// What jobs share across renders (the page keeps one, see `app`).
#[derive(Default)]
pub struct JobsMemory {
    /// Set once the page has begun moving to the CPU, so that only the first of the jobs
    /// failing on the lost GPU moves it.
    moving_to_cpu: Cell<bool>,
    /// Count model loads and conversions: only the newest of each may finish, so a cancelled
    /// conversion or a model switched away from never takes over.
    loads: Cell<u64>,
    conversions: Cell<u64>,
    /// The model in use once it is ready, `None` while another loads: for a job that starts
    /// later than the click that asked for it (an audit, once its dropped folder is listed).
    ready_engine: RefCell<Option<Rc<Engine>>>,
    /// Count photos opened, a link's too: a slow one (a demo fetched, a large file read) opened
    /// before a quicker one never replaces it.
    opens: Cell<u64>,
    /// Count analyses, so that one running passes of its own stops when a newer one starts.
    analyses: Cell<u64>,
    /// Count comparisons, sanity checks, factorisations and audits, so that a cancelled one (or one a newer one
    /// replaced) stops.
    comparisons: Cell<u64>,
    sanity_checks: Cell<u64>,
    factorizations: Cell<u64>,
    audits: Cell<u64>,
    /// The audited folder's files by path, to open one in the single-photo view.
    audited_files: RefCell<HashMap<String, web_sys::File>>,
    /// A share link waiting for the model it was made with: its fragment, and the model's
    /// SHA-256 (`None`: the built-in one).
    pending_link: RefCell<Option<(String, Option<String>)>>,
}

/// Starts jobs; cheap to clone into callbacks. Made at each render, so `engine` is the
/// model of that render.
#[derive(Clone)]
pub struct Jobs {
    dispatch: UseReducerDispatcher<AppState>,
    engine: UseStateHandle<Option<Rc<Engine>>>,
    memory: Rc<JobsMemory>,
}

impl Jobs {
    pub fn new(
        dispatch: UseReducerDispatcher<AppState>,
        engine: UseStateHandle<Option<Rc<Engine>>>,
        memory: Rc<JobsMemory>,
    ) -> Self {
        Self { dispatch, engine, memory }
    }

    fn send(&self, action: Action) {
        self.dispatch.dispatch(action);
    }

    /// A model load begins: only the newest may finish, and no job starts until it does.
    fn start_load(&self) -> u64 {
        self.memory.ready_engine.replace(None);
        new_run(&self.memory.loads)
    }

    /// The page's model from now on.
    fn engine_ready(&self, engine: Engine) {
        let engine = Rc::new(engine);
        self.memory.ready_engine.replace(Some(engine.clone()));
        self.engine.set(Some(engine));
    }

    /// Stops the comparison, sanity check, factorisation and audit under way: their model is
    /// being replaced (the state forgets them too, and keeps the audit's report so far), and they
    /// would hold its device for minutes.
    fn stop_device_jobs(&self) {
        let memory = &self.memory;
        for runs in [&memory.comparisons, &memory.sanity_checks, &memory.factorizations, &memory.audits] {
            new_run(runs);
        }
    }

    /// What to tell the visitor about a failed job; `None` when the page handles it by moving
    /// to the CPU.
    fn failure_text(&self, engine: &Engine, failure: Failure) -> Option<String> {
        match failure {
            Failure::Input(error) => Some(error),
            Failure::Device(error) if self.move_to_cpu(engine, &error) => None,
            Failure::Device(error) => Some(error.to_string()),
        }
    }
}
