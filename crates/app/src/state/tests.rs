//! The state's behaviour, natively: no browser needed.

use image::RgbImage;
use xai_explain::sanity::{RandomLogit, Randomized, Sanity};
use xai_explain::similarity::Similarity;
use xai_explain::Map;
use xai_model::architecture::{cascade, Tail};
use xai_model::Prediction;
use xai_share::{ModelRef, Photo as PhotoSource, Shared};

use super::*;

fn photo(name: &str) -> NewPhoto {
    NewPhoto { name: name.into(), crop: RgbImage::new(4, 4), source: PhotoSource::Demo(name.into()) }
}

/// A model of `classes` classes and these layers, ready on the CPU.
fn model_ready(classes: usize, layers: Vec<(Layer, usize)>) -> Action {
    Action::ModelReady {
        backend: "CPU",
        ms: 1.0,
        cached: false,
        notice: None,
        model_notice: None,
        own: None,
        setup: None,
        classes,
        layers,
        linear_head: true,
    }
}

/// The visitor's own model of `classes` classes, converted as `setup` says, ready on the CPU.
fn own_ready(own: StoredModel, setup: Option<Setup>, classes: usize) -> Action {
    Action::ModelReady {
        backend: "CPU",
        ms: 1.0,
        cached: true,
        notice: None,
        model_notice: None,
        own: Some(own),
        setup,
        classes,
        layers: AppState::default().layers,
        linear_head: true,
    }
}

fn ready() -> Rc<AppState> {
    Rc::new(AppState::default()).after(model_ready(1000, AppState::default().layers))
}

fn explained(key: AnalysisKey, class: usize) -> Explained {
    Explained { key, top5: Vec::new(), class, map: Map::new(1, 1, vec![1.0]), ms: 1.0 }
}

#[test]
fn only_the_answer_to_the_newest_question_is_shown() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    assert_eq!(state.status(), Status::Running);
    let first = state.analysis_key().unwrap();
    let state = state.after(Action::AnalysisStarted).after(Action::AddPhoto(photo("coffee")));
    let second = state.analysis_key().unwrap();
    let state = state.after(Action::AnalysisStarted);
    assert_eq!(state.jobs, 2);
    // The first photo's result comes last: it is dropped.
    let state = state.after(Action::Analysed(Ok(explained(second.clone(), 967))));
    let state = state.after(Action::Analysed(Ok(explained(first, 285))));
    assert_eq!(state.shown().map(|e| e.class), Some(967));
    assert_eq!(state.status(), Status::Done);
    assert_eq!(state.gallery.len(), 2);
}

#[test]
fn the_photo_shown_opened_again_keeps_its_answer() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetClass(Some(281)));
    let key = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(key.clone(), 281))));
    let state = state.after(Action::AddPhoto(photo("chelsea")));
    assert_eq!((state.analysis_key(), state.gallery.len()), (Some(key.clone()), 1));
    assert!(state.shown().is_some());
    // After an error, opening it again asks again.
    let state = state.after(Action::SetLayer(Layer::Layer3));
    let failed = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Err((failed.clone(), "broken".into()))));
    let state = state.after(Action::AddPhoto(photo("chelsea")));
    assert_eq!(state.error, None);
    assert_ne!(state.analysis_key(), Some(failed));
}

#[test]
fn painting_settings_do_not_change_the_question() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(key.clone(), 285))));
    let state = state.after(Action::SetOpacity(80)).after(Action::SetColormap(Colormap::Turbo));
    assert_eq!(state.analysis_key(), Some(key));
    assert!(state.shown().is_some());
    let state = state.after(Action::SetLayer(Layer::Layer3));
    assert_eq!(state.shown(), None);
    assert_eq!(state.status(), Status::Running);
}

#[test]
fn a_failed_analysis_ends_the_job_with_its_message() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.analysis_key().unwrap();
    let state = state.after(Action::AnalysisStarted).after(Action::Analysed(Err((key, "broken".into()))));
    assert_eq!((state.status(), state.error.as_deref()), (Status::Done, Some("broken")));
    let state = state.after(Action::AddPhoto(photo("coffee")));
    assert_eq!(state.error, None);
}

#[test]
fn the_same_photo_twice_is_one_gallery_entry_and_clears_the_class() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetClass(Some(3)));
    let state = state.after(Action::AddPhoto(photo("coffee"))).after(Action::AddPhoto(photo("chelsea")));
    let names: Vec<&str> = state.gallery.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["coffee", "chelsea"]);
    assert_eq!(state.question.class, None);
    assert_eq!(state.current.as_ref().map(|p| p.id), Some(3));
    // Still ticked for DFF when opened again.
    let state = state.after(Action::TogglePick(3)).after(Action::AddPhoto(photo("coffee")));
    let state = state.after(Action::AddPhoto(photo("chelsea")));
    assert_eq!(state.dff_photos().iter().map(|p| p.id).collect::<Vec<_>>(), [5]);
}

#[test]
fn the_gallery_keeps_its_newest_photos_and_those_ticked() {
    let mut state = ready().after(Action::AddPhoto(photo("first"))).after(Action::TogglePick(1));
    for i in 0..2 * GALLERY_SIZE {
        state = state.after(Action::AddPhoto(photo(&format!("photo {i}"))));
    }
    let names: Vec<&str> = state.gallery.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), GALLERY_SIZE);
    assert_eq!((names[0], names[1], names[GALLERY_SIZE - 1]), ("first", "photo 25", "photo 47"));
}

#[test]
fn dff_uses_the_ticked_photos_or_else_the_current_one() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::AddPhoto(photo("coffee")));
    assert_eq!(state.dff_photos().iter().map(|p| p.id).collect::<Vec<_>>(), [2]);
    let state = state.after(Action::TogglePick(1)).after(Action::TogglePick(2)).after(Action::TogglePick(2));
    assert_eq!(state.dff_photos().iter().map(|p| p.id).collect::<Vec<_>>(), [1]);
    let key = FactorizeKey { model: 1, photos: state.dff_photos(), k: 5 };
    let state = state.after(Action::FactorizeStarted(key.clone()));
    assert_eq!(state.status(), Status::Running);
    let stale = FactorizeKey { k: 3, ..key.clone() };
    let state =
        state.after(Action::FactorizeProgressed(stale.clone(), 7)).after(Action::FactorizeProgressed(key.clone(), 1));
    assert_eq!(state.factorizing, Some((key.clone(), 1)));
    let state = state.after(Action::Factorized(stale.clone(), Err("old".into())));
    assert_eq!((state.status(), state.error.clone()), (Status::Running, None));
    let cancelled =
        state.clone().after(Action::FactorizeCancelled(stale)).after(Action::FactorizeCancelled(key.clone()));
    assert_eq!((cancelled.factorizing.clone(), cancelled.error.clone()), (None, None));
    let state = state.after(Action::Factorized(key, Err("failed".into())));
    assert_eq!((state.factorizing.is_none(), state.error.as_deref()), (true, Some("failed")));
}

#[test]
fn a_lost_device_reloads_and_asks_again() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let before = state.analysis_key().unwrap();
    let lost = Notice { text: "moved".into(), details: None };
    let state = state.after(Action::DeviceLost(lost));
    assert_eq!((state.status(), state.analysis_key()), (Status::Loading, None));
    let state = state.after(Action::ModelReady {
        backend: "CPU",
        ms: 1.0,
        cached: true,
        notice: None,
        model_notice: None,
        own: None,
        setup: None,
        classes: 1000,
        layers: AppState::default().layers,
        linear_head: true,
    });
    assert_ne!(state.analysis_key(), Some(before));
    assert_eq!(state.notice.as_ref().map(|n| n.text.as_str()), Some("moved"));
}

#[test]
fn a_model_of_three_stages_is_asked_of_its_last_layer() {
    let state = ready().after(model_ready(10, vec![(Layer::Layer1, 32), (Layer::Layer2, 16), (Layer::Layer3, 8)]));
    assert_eq!((state.question.layer, state.last_layer()), (Layer::Layer3, Layer::Layer3));
    // There CAM is defined at layer3, and a link to layer4 names what the model lacks.
    assert!(settings_from_link(&link("cam", "layer3"), Tail::linear(Layer::Layer3)).is_ok());
    let error = settings_from_link(&link("gradcam", "layer4"), Tail::linear(Layer::Layer3)).unwrap_err();
    assert!(error.contains("this model has no layer4: its last layer is layer3"), "{error}");
}

#[test]
fn after_a_head_of_several_layers_cam_is_defined_nowhere() {
    let mut fastai = model_ready(7, AppState::default().layers);
    if let Action::ModelReady { linear_head, .. } = &mut fastai {
        *linear_head = false;
    }
    let state = ready().after(fastai);
    let cam = xai_explain::method("cam").unwrap();
    assert!(!cam.supports(Layer::Layer4, state.tail()));
    let error = settings_from_link(&link("cam", "layer4"), state.tail()).unwrap_err();
    assert!(error.contains("cam reads a head of one Linear, which this model has not"), "{error}");
}

fn link(method: &str, layer: &str) -> Shared {
    Shared {
        model: None,
        photo: PhotoSource::Demo("chelsea".into()),
        method: method.into(),
        layer: layer.into(),
        class: Some(281),
        versus: None,
        probability: false,
        colormap: "turbo".into(),
        opacity: 60,
        k: 4,
        compare: false,
    }
}

#[test]
fn links_are_checked_as_a_whole() {
    let settings = settings_from_link(&link("gradcam++", "layer3"), Tail::linear(Layer::Layer4)).unwrap();
    let question = Question { method: "gradcam++".into(), layer: Layer::Layer3, class: Some(281), score: Score::Logit };
    let look = Look { colormap: Colormap::Turbo, opacity: 60 };
    assert_eq!(settings, LinkSettings { question, look, k: 4, compare: false, setup: None });
    for (method, layer, expected) in [
        ("cam", "layer3", "cam is not defined at layer3"),
        ("nope", "layer4", "unknown method 'nope'"),
        ("gradcam", "layer9", "unknown layer 'layer9'"),
    ] {
        let error = settings_from_link(&link(method, layer), Tail::linear(Layer::Layer4)).unwrap_err();
        assert!(error.starts_with("share link: ") && error.contains(expected), "{error}");
    }
    let bad_colormap = Shared { colormap: "plasma".into(), ..link("gradcam", "layer4") };
    assert!(settings_from_link(&bad_colormap, Tail::linear(Layer::Layer4)).unwrap_err().contains("unknown colormap"));
}

#[test]
fn a_shared_view_opens_as_it_was_shared() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetMethod("layercam".into()));
    let state = state.after(Action::SetLayer(Layer::Layer2)).after(Action::SetOpacity(70));
    let state = state.after(Action::SetScore(Score::Versus(281)));
    let key = state.analysis_key().unwrap();
    let top = vec![Prediction { class: 285, label: "Egyptian_cat".into(), prob: 0.7 }];
    let state = state.after(Action::Analysed(Ok(Explained { top5: top, ..explained(key, 285) })));
    let compare = state.compare_key().unwrap();
    let state = state.after(Action::CompareStarted(compare.clone()));
    let state = state.after(Action::ComparedMaps(compare.clone(), Ok(comparison(compare))));
    let fragment = state.share_fragment().unwrap();
    let shared = Shared::from_fragment(&fragment).unwrap();
    let settings = settings_from_link(&shared, Tail::linear(Layer::Layer4)).unwrap();
    let opened = ready().after(Action::OpenLink(photo("chelsea"), settings));
    assert_eq!(opened.question, Question { class: Some(285), ..state.question.clone() });
    assert_eq!(opened.question.score, Score::Versus(281));
    assert_eq!((opened.look, opened.k), (state.look, state.k));
    // The comparison was open: the link opens it, once.
    assert!(opened.compare_on_open);
    let key = opened.compare_key().unwrap();
    let started = opened.clone().after(Action::CompareStarted(key));
    assert!(!started.compare_on_open);
    // Another photo opened before the link's comparison could start: it is not compared.
    assert!(!opened.after(Action::AddPhoto(photo("coffee"))).compare_on_open);
    // The page's own link followed in its tab: the photo, its answer and comparison stay.
    let again = state
        .clone()
        .after(Action::OpenLink(photo("chelsea"), settings_from_link(&shared, Tail::linear(Layer::Layer4)).unwrap()));
    assert_eq!((again.current.as_ref().map(|p| p.id), again.gallery.len()), (Some(1), 1));
    assert!(again.compared().is_some() && !again.compare_on_open);
}

#[test]
fn a_link_to_a_class_the_model_lacks_explains_the_top_class_and_says_why() {
    let settings = settings_from_link(
        &Shared { class: Some(5000), versus: Some(1000), ..link("gradcam", "layer4") },
        Tail::linear(Layer::Layer4),
    );
    let opened = ready().after(Action::OpenLink(photo("chelsea"), settings.unwrap()));
    assert_eq!((opened.question.class, opened.question.score), (None, Score::Logit));
    let notice = opened.link_notice.clone().unwrap().text;
    assert!(notice.contains("class 5000 and 1000") && notice.contains("0 to 999"), "{notice}");
    let fine = settings_from_link(
        &Shared { class: Some(999), versus: Some(3), ..link("gradcam", "layer4") },
        Tail::linear(Layer::Layer4),
    );
    let opened = ready().after(Action::OpenLink(photo("chelsea"), fine.unwrap()));
    assert_eq!(
        (opened.question.class, opened.question.score, &opened.link_notice),
        (Some(999), Score::Versus(3), &None)
    );
}

#[test]
fn the_device_s_notice_stays_and_the_model_s_goes_with_it() {
    let notice = |text: &str| Some(Notice { text: text.into(), details: None });
    let loaded = |notice, model_notice| Action::ModelReady {
        backend: "CPU",
        ms: 1.0,
        cached: true,
        notice,
        model_notice,
        own: None,
        setup: None,
        classes: 1000,
        layers: AppState::default().layers,
        linear_head: true,
    };
    let state = Rc::new(AppState::default()).after(loaded(notice("no GPU"), notice("for 299 x 299")));
    let settings =
        settings_from_link(&Shared { class: Some(5000), ..link("gradcam", "layer4") }, Tail::linear(Layer::Layer4))
            .unwrap();
    let state = state.after(Action::OpenLink(photo("chelsea"), settings));
    assert!(state.link_notice.as_ref().unwrap().text.contains("class 5000"));
    assert_eq!(state.model_notice, notice("for 299 x 299"), "both are said");
    // The link's is about its photo: another photo, and it goes.
    assert_eq!(state.clone().after(Action::AddPhoto(photo("coffee"))).link_notice, None);
    let state = state.after(Action::SwitchModel(Some(own_model("mine.pth", 'a'))));
    assert_eq!((state.notice.clone(), state.model_notice.clone()), (notice("no GPU"), None));
    assert_eq!(state.link_notice, None);
    let state = state.after(loaded(None, None));
    assert_eq!((state.notice.clone(), state.model_notice.clone()), (notice("no GPU"), None));
}

#[test]
fn a_contrast_ends_when_its_class_is_chosen_or_the_photo_changes() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetScore(Score::Versus(281)));
    assert_eq!(state.compare_key().unwrap().score, Score::Versus(281));
    let state = state.after(Action::SetClass(Some(285)));
    assert_eq!(state.question.score, Score::Versus(281));
    let state = state.after(Action::SetClass(Some(281)));
    assert_eq!(state.question.score, Score::Logit, "281 against itself");
    let state = state.after(Action::SetScore(Score::Probability)).after(Action::AddPhoto(photo("coffee")));
    assert_eq!(state.question.score, Score::Logit);
}

fn own_model(name: &str, sha: char) -> StoredModel {
    StoredModel { name: name.into(), sha256: sha.to_string().repeat(64), architecture: "resnet18".into(), classes: 7 }
}

#[test]
fn an_own_model_is_listed_used_shared_and_deleted() {
    let mine = own_model("mine.pth", 'a');
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetClass(Some(900)));
    let state = state.after(Action::Converting("Converting".into()));
    assert_eq!(state.conversion, Conversion::Running("Converting".into()));
    let state = state.after(Action::Converted { model: mine.clone(), ms: 900.0, unkept: None, notes: Vec::new() });
    // Converting the same file again replaces it in the list.
    let state = state.after(Action::Converted { model: mine.clone(), ms: 800.0, unkept: None, notes: Vec::new() });
    assert_eq!(
        (state.own_models.len(), &state.conversion),
        (1, &Conversion::Done { name: "mine.pth".into(), ms: 800.0, unkept: None, notes: Vec::new() })
    );
    // One the browser would not keep is used, not listed as kept.
    let big = own_model("big.pth", 'b');
    let no_room = Some("no room left".to_string());
    let unkept =
        state.clone().after(Action::Converted { model: big, ms: 700.0, unkept: no_room.clone(), notes: Vec::new() });
    assert_eq!(
        (unkept.own_models.len(), &unkept.conversion),
        (1, &Conversion::Done { name: "big.pth".into(), ms: 700.0, unkept: no_room, notes: Vec::new() })
    );
    let before = state.analysis_key().unwrap();
    let state = state.after(Action::SwitchModel(Some(mine.clone())));
    // Shown as chosen while it loads.
    assert_eq!((state.status(), state.analysis_key(), state.using.as_ref()), (Status::Loading, None, Some(&mine)));
    let state = state.after(own_ready(mine.clone(), None, 1000));
    // Another head: the ImageNet class asked before is dropped, and the photo is asked again.
    let key = state.analysis_key().unwrap();
    assert_eq!((key.question.class, key.model == before.model), (None, false));
    let state = state.after(Action::Analysed(Ok(explained(key, 3))));
    let link = Shared::from_fragment(&state.share_fragment().unwrap()).unwrap();
    assert_eq!(link.model, Some(ModelRef { name: "mine.pth".into(), sha256: mine.sha256.clone(), setup: None }));
    let state = state.after(Action::ModelDeleted(mine.sha256.clone()));
    assert!(state.own_models.is_empty());
}

#[test]
fn a_link_to_a_missing_model_waits_for_it() {
    let wanted = ModelRef { name: "mine.pth".into(), sha256: "b".repeat(64), setup: None };
    let state = ready().after(Action::WantModel(wanted.clone()));
    assert_eq!(state.wanted.as_ref(), Some(&wanted));
    let other = own_ready(own_model("x.pth", 'c'), None, 1000);
    let state = state.after(other);
    assert!(state.wanted.is_some());
    let right = own_ready(own_model("mine.pth", 'b'), None, 1000);
    assert_eq!(state.clone().after(right).wanted, None);
    let failed = state.after(Action::ConvertFailed("not a ResNet".into()));
    assert_eq!(failed.conversion, Conversion::Failed("not a ResNet".into()));
}

fn scores(drop: f32) -> Scores {
    use xai_explain::metrics::Faithfulness;
    use xai_explain::road::Road;
    let faithfulness = Faithfulness { drop, increase: false, deletion: 0.1, insertion: 0.8 };
    Scores { faithfulness, road: Road { most_relevant_first: -0.5, least_relevant_first: -0.1, combined: 0.2 } }
}

fn comparison(key: CompareKey) -> Comparison {
    let compared = |method| Compared { method, map: Map::new(1, 1, vec![1.0]), scores: None };
    let methods = vec![compared("gradcam"), compared("eigencam")];
    Comparison { key, class: 285, maps_ms: 1.0, own_passes_ms: Vec::new(), methods }
}

#[test]
fn a_comparison_fills_in_its_scores_and_answers_only_its_photo_and_layer() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let analysed = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(analysed, 285))));
    let key = state.compare_key().unwrap();
    let state = state.after(Action::CompareStarted(key.clone()));
    assert_eq!(state.status(), Status::Running);
    let state = state.after(Action::ComparedMaps(key.clone(), Ok(comparison(key.clone()))));
    let state = state.after(Action::Scored(key.clone(), "eigencam", scores(12.0), ScoreCost::Ms(900.0)));
    let methods = &state.compared().unwrap().methods;
    assert_eq!(
        (methods[0].scores.as_ref(), methods[1].scores.as_ref().map(|s| s.1)),
        (None, Some(ScoreCost::Ms(900.0)))
    );
    let state = state.after(Action::CompareEnded(key.clone(), None));
    assert_eq!(state.status(), Status::Done);
    // Another layer is another question: the comparison is kept, but not shown for it.
    let state = state.after(Action::SetLayer(Layer::Layer3));
    assert!(state.compared().is_none() && state.comparison.is_some());
    let state = state.after(Action::SetLayer(Layer::Layer4));
    assert!(state.compared().is_some());
}

#[test]
fn a_cancelled_or_replaced_comparison_is_not_taken() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let first = state.compare_key().unwrap();
    let state = state.after(Action::CompareStarted(first.clone())).after(Action::CompareEnded(first.clone(), None));
    // Maps that arrive after the cancel are dropped.
    let state = state.after(Action::ComparedMaps(first.clone(), Ok(comparison(first.clone()))));
    assert_eq!((state.comparison.as_ref(), state.comparing.as_ref()), (None, None));
    let state = state.after(Action::SetClass(Some(3)));
    let second = state.compare_key().unwrap();
    let state = state.after(Action::CompareStarted(second.clone()));
    let state = state.after(Action::CompareEnded(first, Some("stale".into())));
    assert_eq!((state.comparing.as_ref(), state.error.as_deref()), (Some(&second), None));
    let state = state.after(Action::CompareEnded(second, Some("the device failed".into())));
    assert_eq!((state.comparing.as_ref(), state.error.as_deref()), (None, Some("the device failed")));
}

#[test]
fn sorting_keeps_the_choice() {
    let state = ready().after(Action::SortBy(Some(Metric::Road)));
    assert_eq!(state.sort, Some(Metric::Road));
    assert_eq!(state.after(Action::SortBy(None)).sort, None);
}

fn report(key: CompareKey) -> SanityReport {
    let similarity = Similarity { spearman: 0.2, ssim: 0.3 };
    let cascade = cascade(Layer::Layer4).into_iter().map(|down_to| Randomized { down_to, similarity }).collect();
    let sanity = Sanity {
        cascade,
        decided_by: "layer4",
        random_logit: RandomLogit { class: 801, similarity },
        blank: false,
        verdict: "passes".into(),
    };
    SanityReport {
        key,
        class: 285,
        random_label: "snorkel".into(),
        methods: vec![("gradcam", Map::new(1, 1, vec![1.0]), sanity)],
        ms: 900.0,
    }
}

#[test]
fn a_sanity_check_shows_its_steps_then_answers_only_its_photo_layer_and_class() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.compare_key().unwrap();
    let state = state.after(Action::SanityStarted(key.clone())).after(Action::SanityStepped(key.clone(), 3));
    assert_eq!((state.checking.as_ref().map(|(_, done)| *done), state.status()), (Some(3), Status::Running));
    let state = state.after(Action::SanityChecked(report(key.clone())));
    assert!(state.checking.is_none() && state.checked().is_some());
    let state = state.after(Action::SetClass(Some(1)));
    assert!(state.checked().is_none(), "another class is another check");
}

#[test]
fn a_cancelled_sanity_check_is_not_taken_and_a_failure_is_shown() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.compare_key().unwrap();
    let state = state.after(Action::SanityStarted(key.clone())).after(Action::SanityEnded(key.clone(), None));
    let state = state.after(Action::SanityChecked(report(key.clone())));
    assert!(state.checked().is_none() && state.error.is_none());
    let state = state.after(Action::SanityStarted(key.clone()));
    let state = state.after(Action::SanityEnded(key, Some("the device failed".into())));
    assert!(state.checking.is_none());
    assert_eq!(state.error.as_deref(), Some("the device failed"));
}

#[test]
fn methods_with_passes_of_their_own_join_the_comparison_with_their_progress() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.compare_key().unwrap();
    let state = state.after(Action::CompareStarted(key.clone()));
    let state = state
        .after(Action::ComparedMaps(key.clone(), Ok(comparison(key.clone()))))
        .after(Action::CompareEnded(key.clone(), None));
    let progress = |method, done| CompareProgress::Channels(method, done, 2048);
    let state = state
        .after(Action::CompareStarted(key.clone()))
        .after(Action::CompareProgressed(key.clone(), progress("ablationcam", 64)));
    assert_eq!(state.compare_progress, Some(progress("ablationcam", 64)));
    let ablation = Compared { method: "ablationcam", map: Map::new(1, 1, vec![2.0]), scores: None };
    let state = state.after(Action::ComparedMap(key.clone(), ablation, 5000.0));
    let state = state.after(Action::Scored(key.clone(), "ablationcam", scores(3.0), ScoreCost::SameMapAs("gradcam")));
    let comparison = state.compared().unwrap();
    let names: Vec<&str> = comparison.methods.iter().map(|m| m.method).collect();
    assert_eq!(names, ["gradcam", "eigencam", "ablationcam"]);
    assert_eq!(comparison.methods[2].scores.as_ref().map(|s| s.1), Some(ScoreCost::SameMapAs("gradcam")));
    assert_eq!(comparison.own_passes_ms, [("ablationcam", 5000.0)]);
    let state = state
        .after(Action::CompareProgressed(key.clone(), progress("scorecam", 16)))
        .after(Action::CompareEnded(key, None));
    assert!(state.compare_progress.is_none() && state.comparing.is_none());
}

fn audited(path: &str) -> std::sync::Arc<xai_audit::Photo> {
    let photo = xai_audit::Photo {
        path: path.into(),
        truth: None,
        top5: Vec::new(),
        map: None,
        error: Some("not an image".into()),
    };
    std::sync::Arc::new(photo)
}

#[test]
fn an_audit_counts_its_batches_and_a_newer_or_cancelled_run_takes_nothing_more() {
    let started = |run| Action::AuditStarted {
        run,
        folder: "photos".into(),
        labels: Rc::new(xai_model::Labels::numbered(4)),
        total: 4,
        notes: vec!["folder 'x' names no class".into()],
        at_ms: 1000.0,
    };
    let state = ready().after(started(1)).after(Action::AuditClassified(1, vec![audited("a"), audited("b")], 2000.0));
    let audit = state.audit.clone().unwrap();
    assert_eq!((audit.report.photos.len(), audit.report.notes.len()), (2, 1));
    assert_eq!((audit.rate(), audit.seconds_left()), (2.0, Some(1.0)));
    assert_eq!(state.status(), Status::Running);
    // A second folder replaces the first; the first run's batches are dropped.
    let state = state.after(started(2)).after(Action::AuditClassified(1, vec![audited("c")], 3000.0));
    assert!(state.audit.as_ref().unwrap().report.photos.is_empty());
    let state = state
        .after(Action::AuditClassified(2, vec![audited("c")], 3000.0))
        .after(Action::AuditExplaining(2, 1))
        .after(Action::AuditOverlay(2, "c".into(), "data:".into()));
    let concepts = xai_audit::ClassConcepts { class: 3, photos: vec!["c".into()], concepts: Vec::new() };
    let state = state.after(Action::AuditConcepts(2, concepts, vec!["data:1".into()]));
    let audit = state.audit.clone().unwrap();
    assert_eq!(audit.stage, AuditStage::Explaining { classes_done: 1, classes: 1 });
    assert_eq!((audit.pictures.overlays.len(), audit.pictures.regions[&(3, 0)].as_str()), (1, "data:1"));
    let state = state.after(Action::AuditEnded(2, Some(AuditStage::Cancelled)));
    let state = state.after(Action::AuditClassified(2, vec![audited("d")], 4000.0));
    let audit = state.audit.clone().unwrap();
    assert_eq!((audit.stage.clone(), audit.report.photos.len()), (AuditStage::Cancelled, 1));
    assert!(audit.report.notes.last().unwrap().starts_with("cancelled after 1 of 4 photos: "), "the report says so");
    assert_eq!(state.status(), Status::Done);
    // Another model chosen, or the GPU lost, ends a running audit with its report so far.
    for (action, why) in [
        (Action::SwitchModel(None), "another model was chosen"),
        (Action::DeviceLost(Notice { text: "moved".into(), details: None }), "WebGPU stopped working"),
    ] {
        let state = state.clone().after(started(3)).after(Action::AuditClassified(3, vec![audited("e")], 5000.0));
        let audit = state.after(action).audit.clone().unwrap();
        assert_eq!(audit.stage, AuditStage::Stopped(why.into()));
        let note = audit.report.notes.last().unwrap();
        assert!(note.starts_with(&format!("stopped ({why}) after 1 of 4 photos")), "{note}");
    }
}

#[test]
fn a_method_with_passes_of_its_own_shows_its_progress_and_a_cancel_brings_back_the_last_answer() {
    let state = ready().after(Action::AddPhoto(photo("chelsea"))).after(Action::SetMethod("layercam".into()));
    let layercam = state.analysis_key().unwrap();
    let state = state.after(Action::AnalysisStarted).after(Action::Analysed(Ok(explained(layercam.clone(), 285))));
    let state = state.after(Action::SetMethod("scorecam".into())).after(Action::AnalysisStarted);
    let scorecam = state.analysis_key().unwrap();
    let state = state.after(Action::AnalysisProgressed(scorecam.clone(), 64, 2048));
    assert_eq!((state.analysis_progress(), state.status()), (Some((64, 2048)), Status::Running));
    // Progress from an analysis no longer asked for is not shown.
    let state = state.after(Action::AnalysisProgressed(layercam.clone(), 1, 2));
    assert_eq!(state.analysis_progress(), Some((64, 2048)));
    let state = state.after(Action::CancelAnalysis);
    assert_eq!((state.analysis_key(), state.analysis_progress()), (Some(layercam), None));
    assert_eq!((state.shown().map(|e| e.class), state.status()), (Some(285), Status::Done));
    // Without an answer from a one-pass method (a link that asked for Score-CAM), Grad-CAM.
    let state = state.after(Action::AddPhoto(photo("coffee"))).after(Action::SetMethod("ablationcam".into()));
    let ablationcam = state.analysis_key().unwrap();
    let state =
        state.after(Action::Analysed(Ok(explained(ablationcam, 967)))).after(Action::SetMethod("scorecam".into()));
    assert_eq!(state.clone().after(Action::CancelAnalysis).question.method, "gradcam");
    // Nor a method the layer chosen since does not have: CAM is layer4's only.
    let state = state.after(Action::SetMethod("cam".into()));
    let cam = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(cam, 967)))).after(Action::SetMethod("scorecam".into()));
    let state = state.after(Action::SetLayer(Layer::Layer3)).after(Action::CancelAnalysis);
    assert_eq!((state.question.method.as_str(), state.question.layer), ("gradcam", Layer::Layer3));
}

#[test]
fn a_download_overtaken_by_a_newer_load_cannot_take_the_page_back_to_loading() {
    let state = ready().after(Action::ModelProgress { loaded: 1 << 20, total: Some(1 << 24) });
    assert!(matches!(state.model, ModelState::Ready { .. }), "{:?}", state.model);
}

#[test]
fn choosing_the_top_class_by_name_asks_nothing_new() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let key = state.analysis_key().unwrap();
    let top5 = [285, 281].map(|class| Prediction { class, label: format!("class {class}"), prob: 0.5 }).to_vec();
    let state = state.after(Action::Analysed(Ok(Explained { top5, ..explained(key.clone(), 285) })));
    let state = state.after(Action::SetClass(Some(285)));
    assert_eq!((state.analysis_key(), state.shown().is_some()), (Some(key), true));
    let state = state.after(Action::SetClass(Some(281))).after(Action::SetScore(Score::Versus(285)));
    assert_eq!(state.question.class, Some(281));
    // The top class chosen while the contrast is with it: the contrast ends too.
    let contrast = state.analysis_key().unwrap();
    let top5 = state.photo_answer().unwrap().top5.clone();
    let state = state.after(Action::Analysed(Ok(Explained { top5, ..explained(contrast, 281) })));
    let state = state.after(Action::SetClass(Some(285)));
    assert_eq!((state.question.class, state.question.score), (None, Score::Logit));
}

#[test]
fn a_new_question_keeps_the_photo_s_last_answer_shown_until_it_is_answered() {
    let state = ready().after(Action::AddPhoto(photo("chelsea")));
    let first = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(first.clone(), 285)))).after(Action::SetLayer(Layer::Layer3));
    assert_eq!((state.shown(), state.photo_answer().map(|e| &e.key)), (None, Some(&first)));
    // A failed answer to the new question is not hidden behind the old one.
    let third = state.analysis_key().unwrap();
    let failed = state.clone().after(Action::Analysed(Err((third, "broken".into()))));
    assert_eq!(failed.photo_answer(), None);
    // Another photo has no answer yet: nothing of the last photo's is shown.
    assert_eq!(state.after(Action::AddPhoto(photo("coffee"))).photo_answer(), None);
}

#[test]
fn a_link_says_how_its_model_was_converted_and_a_model_converted_otherwise_is_told() {
    use xai_model::{InputSize, Preprocessing};
    let cifar = Setup {
        preprocessing: Preprocessing::Normalize { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] },
        stem_stride: 1,
        max_pool: false,
        input_size: InputSize::new(32).unwrap(),
        ema: true,
    };
    let mine = own_model("mine.pth", 'a');
    let loaded = |setup| own_ready(mine.clone(), Some(setup), 7);
    let state = Rc::new(AppState::default()).after(loaded(cifar)).after(Action::AddPhoto(photo("chelsea")));
    let key = state.analysis_key().unwrap();
    let state = state.after(Action::Analysed(Ok(explained(key, 3))));
    let shared = Shared::from_fragment(&state.share_fragment().unwrap()).unwrap();
    assert_eq!(shared.model.as_ref().and_then(|m| m.setup), Some(cifar));
    // The same setup opens quietly; the same file converted with ImageNet's statistics is told.
    let open = |state: Rc<AppState>| {
        let settings = settings_from_link(&shared, Tail::linear(Layer::Layer4)).unwrap();
        state.after(Action::OpenLink(photo("coffee"), settings)).link_notice.clone()
    };
    assert_eq!(open(state.clone()), None);
    let imagenet = Setup { preprocessing: Preprocessing::IMAGENET, ema: false, ..cifar };
    let other = open(state.after(Action::SwitchModel(Some(mine.clone()))).after(loaded(imagenet))).unwrap();
    assert!(
        other.text.starts_with(
            "This link was made with mine.pth converted for mean 0.4914, 0.4822, 0.4465 and std 0.247, 0.2435, 0.2616, stem stride 1 with no max pooling, 32 x 32 photos, its EMA copy; here it is converted for mean 0.485,"
        ),
        "{}",
        other.text
    );
}
