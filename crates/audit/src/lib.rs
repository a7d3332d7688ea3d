//! The folder audit: what a folder of photos says about a model. Photos arrive one at a time
//! (the folder is streamed, never held decoded), each with its true class when it sits in a
//! folder named after one (the ImageFolder convention), and its top five or why it could not be
//! read. The report counts and ranks them: accuracy and top-5 accuracy, the most confused pairs,
//! the most confident mistakes and the least confident right answers, and per predicted class
//! the concepts its photos share. Plain data: the CLI and the page build the same report and
//! write the same JSON lines and HTML.

#[cfg(feature = "compute")]
pub mod compute;
pub mod folder;
pub mod html;
pub mod table;

use std::cmp::Ordering;
use std::sync::Arc;

use serde::Serialize;
use xai_files::{Labels, Prediction};

/// How many of each ranked list a report keeps.
pub const LISTED: usize = 10;

/// How many photos of a predicted class one factorisation takes (its most confident ones), and
/// how many concepts it finds.
pub const CONCEPT_SAMPLE: usize = 8;
pub const CLASS_CONCEPTS: usize = 3;

/// One photo of the folder, as classified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Photo {
    /// Its path inside the folder, with '/' between the parts.
    pub path: String,
    /// The class its folder names, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<usize>,
    /// The five most probable classes, most probable first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top5: Vec<Prediction>,
    /// Where the network looked for its first choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<MapSummary>,
    /// Why it could not be classified (not an image, unreadable, too large...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The photo's Grad-CAM map of its first choice at layer4 (7 x 7 at 224 px, after the ReLU,
/// from the classifying pass itself), and what it says at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapSummary {
    /// The strongest cell's centre, as fractions of the photo's width and height from its top
    /// left.
    pub peak: [f32; 2],
    /// The share of the map at half its peak or more: small when the network looked at one
    /// spot; 0 for an empty map.
    pub area: f32,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl MapSummary {
    pub fn new(height: usize, width: usize, values: Vec<f32>) -> Self {
        let (best, peak) = values.iter().enumerate().fold((0, 0f32), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        let centre = |cell: usize, cells: usize| (cell as f32 + 0.5) / cells as f32;
        let area = if peak > 0.0 {
            values.iter().filter(|&&v| v >= peak / 2.0).count() as f32 / values.len() as f32
        } else {
            0.0
        };
        Self { peak: [centre(best % width, width), centre(best / width, height)], area, height, width, values }
    }
}

impl Photo {
    /// The photo as one line of JSON, without its newline.
    pub fn json_line(&self) -> String {
        // Cannot fail: every key is a string, and a non-finite float is written as null.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn predicted(&self) -> Option<&Prediction> {
        self.top5.first()
    }

    /// Whether the first choice is the true class, for a labelled photo that was read.
    pub fn right(&self) -> Option<bool> {
        Some(self.predicted()?.class == self.truth?)
    }
}

pub use xai_files::counted;

/// The note of a report stopped midway (`how`: cancelled, stopped by Ctrl-C): how far it got,
/// and that what came after is not in it.
pub fn stopped_note(how: &str, done: usize, total: usize) -> String {
    let photos = counted(total, "photo", "photos");
    format!("{how} after {done} of {photos}: what was not done by then (photos, overlays, concepts) is left out")
}

/// What a folder's name says of its photos' class.
#[derive(Debug, Clone, PartialEq)]
pub enum FolderClass {
    Class(usize),
    /// It names no class of the model.
    None,
    /// It names several, as "crane" does in ImageNet (the bird and the machine): the photos get
    /// no true class rather than the first.
    Several(Vec<usize>),
}

/// ImageNet-1k's WordNet IDs in class order (`n01440764` is class 0, tench), one a line, as
/// Keras's `imagenet_class_index.json` lists them: ImageNet's own folders (`val/n01440764/`, as
/// torchvision's `ImageNet` and most copies lay them out) are named by them. The page fetches
/// the file (served as `IMAGENET_IDS_FILE`) when a folder needs it, rather than carry it.
pub const IMAGENET_IDS: &str = include_str!("imagenet_wnids.txt");
pub const IMAGENET_IDS_FILE: &str = "imagenet_wnids.txt";

fn is_imagenet(labels: &Labels) -> bool {
    labels.len() == 1000 && labels.name(0).is_some_and(|first| first.eq_ignore_ascii_case("tench"))
}

fn is_wordnet_id(name: &str) -> bool {
    name.len() == 9 && name.starts_with(['n', 'N']) && name[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Whether a folder's paths (as [`folder::entries`] takes them) have a class folder named by
/// WordNet ID for a model with ImageNet's classes: the IDs are wanted.
pub fn wants_imagenet_ids(paths: &[String], labels: &Labels) -> bool {
    is_imagenet(labels)
        && paths.iter().any(|path| path.split_once('/').is_some_and(|(folder, _)| is_wordnet_id(folder)))
}

/// The class of a folder named by its WordNet ID, for a model with ImageNet's classes.
fn imagenet_class(name: &str, labels: &Labels, imagenet_ids: Option<&str>) -> Option<usize> {
    let ids = imagenet_ids.filter(|_| is_imagenet(labels) && is_wordnet_id(name))?;
    ids.lines().position(|id| id.eq_ignore_ascii_case(name))
}

/// The class a folder's name means: the label itself, else the label with case, spaces,
/// hyphens and underscores ignored ("Egyptian cat" and "egyptian_cat" are "Egyptian_cat"), else,
/// for a model without class names ("class 0", "class 1"...), the number (ImageFolder's "0/",
/// "1/"), else, for ImageNet's classes, the WordNet ID ("n02123045/" is tabby) when
/// `imagenet_ids` ([`IMAGENET_IDS`]) are given.
pub fn class_of_folder(name: &str, labels: &Labels, imagenet_ids: Option<&str>) -> FolderClass {
    let plain = |text: &str| -> String {
        text.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
    };
    let wanted = plain(name);
    let matching = |fits: &dyn Fn(&String) -> bool| -> Vec<usize> {
        labels.names().iter().enumerate().filter(|(_, label)| fits(label)).map(|(i, _)| i).collect()
    };
    let mut found = matching(&|label| label == name);
    if found.is_empty() {
        found = matching(&|label| plain(label) == wanted);
    }
    if found.is_empty()
        && let Ok(number) = name.parse::<usize>()
        && labels.name(number) == Some(&format!("class {number}"))
    {
        found.push(number);
    }
    found.extend(imagenet_class(name, labels, imagenet_ids).filter(|_| found.is_empty()));
    match found[..] {
        [] => FolderClass::None,
        [class] => FolderClass::Class(class),
        _ => FolderClass::Several(found),
    }
}

/// A confusion: photos of `truth` taken for `predicted`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    pub truth: usize,
    pub predicted: usize,
    pub count: usize,
}

/// The concepts the photos predicted as one class share (Deep Feature Factorization over a
/// sample of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassConcepts {
    pub class: usize,
    /// The photos factorised together, the most confident first.
    pub photos: Vec<String>,
    pub concepts: Vec<SharedConcept>,
}

/// One concept of a class: the head's two most probable classes for it, its share of the
/// sample's positions, and the photo where it is strongest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedConcept {
    pub labels: Vec<(String, f32)>,
    pub share: f32,
    pub example: String,
}

/// Everything the audit found, ready to show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Shared, so that the page's state can be copied on every photo classified (an audit of
    /// ImageNet's 50,000 took 22 ms a copy with them owned).
    pub photos: Vec<Arc<Photo>>,
    /// Folders that name no class of the model, folders nested deeper than the convention, the
    /// same path twice: their photos were classified without a true class, or skipped, as the
    /// note says.
    pub notes: Vec<String>,
    /// Per predicted class (see [`Report::concept_samples`]), the concepts its photos share.
    pub concepts: Vec<ClassConcepts>,
}

impl Report {
    pub fn add(&mut self, photo: Photo) {
        self.photos.push(Arc::new(photo));
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The photos that could not be classified.
    pub fn bad(&self) -> impl Iterator<Item = &Photo> {
        self.photos.iter().map(Arc::as_ref).filter(|p| p.error.is_some())
    }

    /// Read photos with a true class.
    fn labelled(&self) -> impl Iterator<Item = &Photo> {
        self.photos.iter().map(Arc::as_ref).filter(|p| p.truth.is_some() && !p.top5.is_empty())
    }

    pub fn labelled_count(&self) -> usize {
        self.labelled().count()
    }

    /// The share of labelled photos whose first choice is right; `None` without any.
    pub fn accuracy(&self) -> Option<f64> {
        self.share(|p| p.right() == Some(true))
    }

    /// The share of labelled photos whose top five hold the true class.
    pub fn top5_accuracy(&self) -> Option<f64> {
        self.share(|p| p.top5.iter().any(|q| Some(q.class) == p.truth))
    }

    fn share(&self, counts: impl Fn(&Photo) -> bool) -> Option<f64> {
        let total = self.labelled_count();
        (total > 0).then(|| self.labelled().filter(|p| counts(p)).count() as f64 / total as f64)
    }

    /// The most frequent (true, predicted) pairs among the mistakes, most frequent first.
    pub fn confusions(&self) -> Vec<Confusion> {
        let pairs: Vec<(usize, usize)> = self
            .labelled()
            .filter(|p| p.right() == Some(false))
            .map(|p| (p.truth.unwrap_or_default(), p.top5[0].class))
            .collect();
        let sorted: Vec<(usize, usize)> = first_in_order(pairs.len(), pairs.len(), &|i, j| pairs[i].cmp(&pairs[j]))
            .into_iter()
            .map(|i| pairs[i])
            .collect();
        let confusions: Vec<Confusion> = sorted
            .chunk_by(|a, b| a == b)
            .map(|run| Confusion { truth: run[0].0, predicted: run[0].1, count: run.len() })
            .collect();
        let order = |a: &Confusion, b: &Confusion| {
            b.count.cmp(&a.count).then((a.truth, a.predicted).cmp(&(b.truth, b.predicted)))
        };
        let first = first_in_order(confusions.len(), LISTED, &|i, j| order(&confusions[i], &confusions[j]));
        first.into_iter().map(|i| confusions[i].clone()).collect()
    }

    /// Wrong first choices, the most probable first.
    pub fn confident_mistakes(&self) -> Vec<&Photo> {
        self.ranked(false, |a, b| b.total_cmp(&a))
    }

    /// Right first choices, the least probable first.
    pub fn unsure_right_answers(&self) -> Vec<&Photo> {
        self.ranked(true, |a, b| a.total_cmp(&b))
    }

    fn ranked(&self, right: bool, order: fn(f32, f32) -> Ordering) -> Vec<&Photo> {
        let photos: Vec<&Photo> = self.labelled().filter(|p| p.right() == Some(right)).collect();
        let first = first_in_order(photos.len(), LISTED, &|i, j| {
            let (a, b) = (photos[i], photos[j]);
            order(a.top5[0].prob, b.top5[0].prob).then(a.path.cmp(&b.path))
        });
        first.into_iter().map(|i| photos[i]).collect()
    }

    /// The predicted classes with at least two photos, the most photos first (at most
    /// [`LISTED`]), each with its [`CONCEPT_SAMPLE`] most confident photos.
    pub fn concept_samples(&self) -> Vec<(usize, Vec<&Photo>)> {
        let mut classes: Vec<(usize, Vec<&Photo>)> = Vec::new();
        for photo in self.photos.iter().map(Arc::as_ref) {
            let Some(first) = photo.predicted() else { continue };
            match classes.iter_mut().find(|(class, _)| *class == first.class) {
                Some((_, photos)) => photos.push(photo),
                None => classes.push((first.class, vec![photo])),
            }
        }
        classes.retain(|(_, photos)| photos.len() >= 2);
        classes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        classes.truncate(LISTED);
        for (_, photos) in &mut classes {
            photos.sort_by(|a, b| b.top5[0].prob.total_cmp(&a.top5[0].prob).then(a.path.cmp(&b.path)));
            photos.truncate(CONCEPT_SAMPLE);
        }
        classes
    }

    /// One JSON object per photo, one per line.
    pub fn json_lines(&self) -> String {
        self.photos.iter().map(|p| p.json_line() + "\n").collect()
    }
}

/// The indices of the first `count` of `len` items in `order` (of their indices), in that
/// order, the rest left unsorted: the page asks for its lists again after every batch of a
/// folder of tens of thousands. Over indices, so that one instance of the sort serves every
/// list (the page's download is on a budget).
pub(crate) fn first_in_order(len: usize, count: usize, order: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    if len > count {
        indices.select_nth_unstable_by(count, |i, j| order(*i, *j));
        indices.truncate(count);
    }
    indices.sort_by(|i, j| order(*i, *j));
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels::from_json(br#"["Egyptian_cat", "tabby", "espresso"]"#).unwrap()
    }

    fn photo(path: &str, truth: Option<usize>, first: (usize, f32)) -> Photo {
        let second = Prediction { class: (first.0 + 1) % 3, label: String::new(), prob: 1.0 - first.1 };
        let top5 = vec![Prediction { class: first.0, label: String::new(), prob: first.1 }, second];
        Photo { path: path.into(), truth, top5, map: None, error: None }
    }

    #[test]
    fn a_map_summary_finds_the_peak_and_the_area_around_it() {
        let summary = MapSummary::new(2, 3, vec![0.0, 0.2, 0.0, 0.0, 0.6, 0.4]);
        assert_eq!((summary.peak, summary.area), ([0.5, 0.75], 2.0 / 6.0));
        assert_eq!(MapSummary::new(1, 2, vec![0.0, 0.0]).area, 0.0);
    }

    #[test]
    fn folder_names_match_labels_loosely() {
        let labels = labels();
        assert_eq!(class_of_folder("Egyptian_cat", &labels, None), FolderClass::Class(0));
        assert_eq!(class_of_folder("egyptian cat", &labels, None), FolderClass::Class(0));
        assert_eq!(class_of_folder("Espresso", &labels, None), FolderClass::Class(2));
        assert_eq!(class_of_folder("dogs", &labels, None), FolderClass::None);
        assert_eq!(class_of_folder("2", &labels, None), FolderClass::None, "numbers only for numbered classes");
        // ImageNet has two cranes and two cardigans (the dog, the sweater).
        let imagenet = Labels::from_json(br#"["crane", "Cardigan", "crane", "cardigan"]"#).unwrap();
        assert_eq!(class_of_folder("crane", &imagenet, None), FolderClass::Several(vec![0, 2]));
        assert_eq!(class_of_folder("Cardigan", &imagenet, None), FolderClass::Class(1), "exactly");
        assert_eq!(class_of_folder("CARDIGAN", &imagenet, None), FolderClass::Several(vec![1, 3]));
        assert_eq!(class_of_folder("12", &Labels::numbered(20), None), FolderClass::Class(12));
    }

    #[test]
    fn imagenet_folders_named_by_wordnet_id_have_their_class() {
        let ids: Vec<&str> = IMAGENET_IDS.lines().collect();
        assert_eq!(ids.len(), 1000);
        // ImageNet's class order is its IDs' sorted order.
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ids.iter().all(|id| is_wordnet_id(id)));
        let mut names = vec!["tench".to_string()];
        names.extend((1..1000).map(|i| format!("class {i}")));
        let imagenet = Labels::from_json(serde_json::to_string(&names).unwrap().as_bytes()).unwrap();
        assert_eq!(class_of_folder("n01440764", &imagenet, Some(IMAGENET_IDS)), FolderClass::Class(0));
        assert_eq!(class_of_folder("n02123045", &imagenet, Some(IMAGENET_IDS)), FolderClass::Class(281), "tabby");
        assert_eq!(class_of_folder("N02123045", &imagenet, Some(IMAGENET_IDS)), FolderClass::Class(281), "any case");
        // The two cranes, one name, are told apart by their IDs: the bird, the machine.
        assert_eq!(class_of_folder("n02012849", &imagenet, Some(IMAGENET_IDS)), FolderClass::Class(134));
        assert_eq!(class_of_folder("n03126707", &imagenet, Some(IMAGENET_IDS)), FolderClass::Class(517));
        assert_eq!(class_of_folder("n99999999", &imagenet, Some(IMAGENET_IDS)), FolderClass::None);
        assert_eq!(class_of_folder("n02123045", &imagenet, None), FolderClass::None, "without the IDs");
        let paths = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(wants_imagenet_ids(&paths(&["a.jpg", "n02123045/1.jpg"]), &imagenet));
        assert!(!wants_imagenet_ids(&paths(&["n02123045.jpg", "tabby/1.jpg"]), &imagenet));
        assert!(!wants_imagenet_ids(&paths(&["n02123045/1.jpg"]), &Labels::numbered(1000)));
        // Another model's 1000 classes are not ImageNet's.
        assert_eq!(class_of_folder("n02123045", &Labels::numbered(1000), Some(IMAGENET_IDS)), FolderClass::None);
    }

    #[test]
    fn long_lists_keep_their_first_in_order() {
        let mut report = Report::default();
        // 120 photos of 6 classes, taken for others unevenly (i % 11 % 5 favours the first
        // offsets), with probabilities that repeat, so that ties fall to the path; every fifth
        // is right.
        for i in 0..120 {
            let truth = i % 6;
            let first = if i % 5 == 0 { truth } else { (truth + 1 + i % 11 % 5) % 6 };
            report.add(photo(&format!("{truth}/{i:03}.jpg"), Some(truth), (first, (i % 7) as f32 / 10.0)));
        }
        let paths = |photos: Vec<&Photo>| photos.iter().map(|p| p.path.clone()).collect::<Vec<_>>();
        let mut wrong: Vec<&Photo> = report.labelled().filter(|p| p.right() == Some(false)).collect();
        wrong.sort_by(|a, b| b.top5[0].prob.total_cmp(&a.top5[0].prob).then(a.path.cmp(&b.path)));
        assert_eq!(paths(report.confident_mistakes()), paths(wrong[..LISTED].to_vec()));
        let mut right: Vec<&Photo> = report.labelled().filter(|p| p.right() == Some(true)).collect();
        right.sort_by(|a, b| a.top5[0].prob.total_cmp(&b.top5[0].prob).then(a.path.cmp(&b.path)));
        assert_eq!(paths(report.unsure_right_answers()), paths(right[..LISTED].to_vec()));
        let mut pairs: Vec<Confusion> = Vec::new();
        for p in &wrong {
            let (truth, predicted) = (p.truth.unwrap(), p.top5[0].class);
            match pairs.iter_mut().find(|c| (c.truth, c.predicted) == (truth, predicted)) {
                Some(c) => c.count += 1,
                None => pairs.push(Confusion { truth, predicted, count: 1 }),
            }
        }
        pairs.sort_by(|a, b| b.count.cmp(&a.count).then((a.truth, a.predicted).cmp(&(b.truth, b.predicted))));
        assert!(pairs.len() > LISTED && pairs[0].count > pairs[LISTED].count, "{pairs:?}");
        assert_eq!(report.confusions(), pairs[..LISTED]);
    }

    #[test]
    fn accuracy_confusions_and_rankings() {
        let mut report = Report::default();
        report.add(photo("cat/1.jpg", Some(0), (0, 0.9)));
        report.add(photo("cat/2.jpg", Some(0), (1, 0.8)));
        report.add(photo("cat/3.jpg", Some(0), (1, 0.6)));
        report.add(photo("cat/4.jpg", Some(0), (2, 0.7)));
        report.add(photo("tabby/1.jpg", Some(1), (1, 0.55)));
        report.add(photo("loose.jpg", None, (2, 0.99)));
        report.add(Photo {
            path: "cat/bad.jpg".into(),
            truth: Some(0),
            top5: Vec::new(),
            map: None,
            error: Some("not an image".into()),
        });
        assert_eq!(report.labelled_count(), 5);
        assert_eq!(report.accuracy(), Some(0.4));
        // cat/4 has the truth second in its top five.
        assert_eq!(report.top5_accuracy(), Some(0.6));
        let confusions =
            [Confusion { truth: 0, predicted: 1, count: 2 }, Confusion { truth: 0, predicted: 2, count: 1 }];
        assert_eq!(report.confusions(), confusions);
        let paths = |photos: Vec<&Photo>| photos.iter().map(|p| p.path.clone()).collect::<Vec<_>>();
        assert_eq!(paths(report.confident_mistakes()), ["cat/2.jpg", "cat/4.jpg", "cat/3.jpg"]);
        assert_eq!(paths(report.unsure_right_answers()), ["tabby/1.jpg", "cat/1.jpg"]);
        assert_eq!(report.bad().count(), 1);
        let lines = report.json_lines();
        assert_eq!(lines.lines().count(), 7);
        assert!(lines.lines().last().unwrap().contains("\"error\":\"not an image\""));
        assert_eq!(Report::default().accuracy(), None);
        // Predicted as class 1: cat/2, cat/3, tabby/1 (the most confident first); as class 2:
        // cat/4 and loose; class 0 has one photo, too few to share anything.
        let samples: Vec<(usize, Vec<String>)> =
            report.concept_samples().into_iter().map(|(class, photos)| (class, paths(photos))).collect();
        assert_eq!(
            samples,
            [
                (1, vec!["cat/2.jpg".into(), "cat/3.jpg".into(), "tabby/1.jpg".into()]),
                (2, vec!["loose.jpg".into(), "cat/4.jpg".into()])
            ]
        );
    }
}
