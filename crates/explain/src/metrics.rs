//! Faithfulness of a map to the network: does what it highlights carry the prediction?
//!
//! - Average drop / increase in confidence: Chattopadhay et al., Grad-CAM++ (WACV 2018), section
//!   6.2: the input multiplied by the normalised map, against the full input (like
//!   pytorch-grad-cam's `CamMultImageConfidenceChange`, on the preprocessed input).
//! - Deletion / insertion AUC: Petsiuk et al., "RISE" (BMVC 2018), section 4.1: pixels removed
//!   from (or added to) the input in order of saliency; the area under the class probability
//!   curve. Removed pixels take the mean colour (0 after preprocessing) and insertion starts from
//!   that blank canvas, in 16 steps: RISE's own code steps 224 pixels (225 passes a curve, where
//!   a score here costs 32 for both) and inserts into a blurred copy, so its numbers differ.
//!
//! Both curves start or end at the photo itself and at the blank canvas, which every map of a
//! photo shares ([`Baseline`]); `crate::scoring` runs the rest, the altered copies of the photo,
//! in batches.

use burn::tensor::{Tensor, TensorData};

use crate::map::Map;
use crate::readback::{read_floats, ReadbackError};
use crate::road::Road;
use xai_model::ResNet;

/// Scores of one image and its explanation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Faithfulness {
    /// max(0, Y - O) / Y in percent, Y the class probability on the input, O on input x map.
    pub drop: f32,
    /// Whether O > Y: averaged over images, the "increase in confidence".
    pub increase: bool,
    /// Area under the probability curve as the most salient pixels are deleted (lower is better).
    pub deletion: f32,
    /// Area under the curve as they are inserted into a blank canvas (higher is better).
    pub insertion: f32,
}

/// Every score of one map: the faithfulness metrics above and ROAD (`crate::road`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scores {
    #[serde(flatten)]
    pub faithfulness: Faithfulness,
    pub road: Road,
}

/// One score of [`Scores`], as the compare view and `xai eval` list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Drop,
    Increase,
    Deletion,
    Insertion,
    RoadMost,
    RoadLeast,
    Road,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::Drop,
        Metric::Increase,
        Metric::Deletion,
        Metric::Insertion,
        Metric::RoadMost,
        Metric::RoadLeast,
        Metric::Road,
    ];

    /// The name on the command line and in the page's tests.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Drop => "drop",
            Metric::Increase => "increase",
            Metric::Deletion => "deletion",
            Metric::Insertion => "insertion",
            Metric::RoadMost => "road-most",
            Metric::RoadLeast => "road-least",
            Metric::Road => "road",
        }
    }

    pub fn by_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A column heading.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Drop => "Average drop %",
            Metric::Increase => "Increase",
            Metric::Deletion => "Deletion",
            Metric::Insertion => "Insertion",
            Metric::RoadMost => "ROAD most",
            Metric::RoadLeast => "ROAD least",
            Metric::Road => "ROAD",
        }
    }

    /// One line on what it measures, and which way is better.
    pub fn explanation(self) -> &'static str {
        match self {
            Metric::Drop => "How much the class's probability falls when the photo is faded by the map (towards its mean colour): lower is better.",
            Metric::Increase => "Whether the photo faded by the map is more confidently the class than the photo itself.",
            Metric::Deletion => "Area under the probability as the most highlighted pixels are removed first: lower is better.",
            Metric::Insertion => "Area under the probability as the most highlighted pixels are added to a blank first: higher is better.",
            Metric::RoadMost => "Change in probability when the most highlighted pixels are filled in from their surroundings (ROAD): lower is better.",
            Metric::RoadLeast => "Change in probability when the least highlighted pixels are filled in (ROAD): higher is better.",
            Metric::Road => "ROAD combined, (least - most) / 2: higher is better.",
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Increase | Metric::Insertion | Metric::RoadLeast | Metric::Road)
    }

    /// The images of a map's scoring it reads: the photo faded by the map, a curve's inner
    /// points, or ROAD's images (after the curves').
    pub fn images(self) -> std::ops::Range<usize> {
        let road = IMAGES..IMAGES + crate::road::IMAGES;
        match self {
            Metric::Drop | Metric::Increase => 0..1,
            Metric::Insertion => 1..STEPS,
            Metric::Deletion => STEPS..IMAGES,
            Metric::RoadMost => road.start..road.start + crate::road::PERCENTILES.len(),
            Metric::RoadLeast => road.start + crate::road::PERCENTILES.len()..road.end,
            Metric::Road => road,
        }
    }

    /// Its value in `scores` (the increase as 100 or 0, so that it averages to a percentage).
    pub fn value(self, scores: &Scores) -> f32 {
        let f = &scores.faithfulness;
        match self {
            Metric::Drop => f.drop,
            Metric::Increase => 100.0 * f32::from(u8::from(f.increase)),
            Metric::Deletion => f.deletion,
            Metric::Insertion => f.insertion,
            Metric::RoadMost => scores.road.most_relevant_first,
            Metric::RoadLeast => scores.road.least_relevant_first,
            Metric::Road => scores.road.combined,
        }
    }
}

/// Fractions of pixels changed between curve points.
pub const STEPS: usize = 16;
/// The images one map's faithfulness is measured on: the photo faded by the map, then the
/// inner points of the insertion curve, then those of the deletion curve.
pub const IMAGES: usize = 1 + 2 * (STEPS - 1);

/// The class's probability on the photo and on the blank canvas (every pixel removed, 0 after
/// preprocessing): the ends of both curves and what drop and ROAD compare with, the same for
/// every map of the photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub photo: f32,
    pub blank: f32,
}

impl Baseline {
    /// One pass of the photo [1, 3, S, S] and the blank canvas.
    pub async fn of(net: &ResNet, input: &Tensor<4>, class: usize) -> Result<Self, ReadbackError> {
        let both = Tensor::cat(vec![input.clone(), input.zeros_like()], 0);
        let probabilities = class_probabilities(net, both, class).await?;
        Ok(Self { photo: probabilities[0], blank: probabilities[1] })
    }
}

/// The class's probability for each image of `batch`, in one pass.
pub(crate) async fn class_probabilities(
    net: &ResNet,
    batch: Tensor<4>,
    class: usize,
) -> Result<Vec<f32>, ReadbackError> {
    read_floats(xai_model::probabilities(net.forward(batch)).slice_dim(1, class..class + 1)).await
}

/// Trapezoidal area under evenly spaced points over [0, 1].
fn area(curve: &[f32]) -> f32 {
    let steps = (curve.len() - 1) as f32;
    curve.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f32>() / steps
}

/// The [`IMAGES`] altered copies of one preprocessed photo [1, 3, S, S] that measure its raw
/// `map`, as one batch.
pub(crate) fn faithfulness_images(input: &Tensor<4>, map: &Map) -> Tensor<4> {
    let [_, _, height, width] = input.dims();
    let device = input.device();
    let saliency = map.normalised().resized(height, width);
    let mask = |values: Vec<f32>| Tensor::<4>::from_data(TensorData::new(values, [1, 1, height, width]), &device);

    // Rank of each pixel by saliency, most salient first; ties keep pixel order.
    let mut order: Vec<usize> = (0..saliency.values.len()).collect();
    order.sort_by(|&a, &b| saliency.values[b].total_cmp(&saliency.values[a]));
    let mut rank = vec![0usize; order.len()];
    for (r, &pixel) in order.iter().enumerate() {
        rank[pixel] = r;
    }
    let pixels = rank.len();
    let keep_top = |step: usize| -> Vec<f32> {
        let cut = pixels * step / STEPS;
        rank.iter().map(|&r| if r < cut { 1.0 } else { 0.0 }).collect()
    };
    // Step 0 inserts nothing and deletes nothing, the last step everything: the baseline's.
    let top = Tensor::cat((1..STEPS).map(|s| mask(keep_top(s))).collect(), 0);
    let explained = input.clone() * mask(saliency.values);
    Tensor::cat(vec![explained, input.clone() * top.clone(), input.clone() * (top.neg() + 1.0)], 0)
}

/// The scores from the class's probability on each of [`faithfulness_images`].
pub(crate) fn faithfulness_from(baseline: Baseline, probabilities: &[f32]) -> Faithfulness {
    let (y, o) = (baseline.photo, probabilities[0]);
    let (inserted, deleted) = probabilities[1..].split_at(STEPS - 1);
    let curve = |first: f32, inner: &[f32], last: f32| -> Vec<f32> {
        std::iter::once(first).chain(inner.iter().copied()).chain([last]).collect()
    };
    let (inserted, deleted) =
        (curve(baseline.blank, inserted, baseline.photo), curve(baseline.photo, deleted, baseline.blank));
    Faithfulness {
        drop: 100.0 * (y - o).max(0.0) / y,
        increase: o > y,
        deletion: area(&deleted),
        insertion: area(&inserted),
    }
}

#[cfg(test)]
mod tests {
    use super::area;

    #[test]
    fn area_of_a_line_from_one_to_zero_is_a_half() {
        assert!((area(&[1.0, 0.5, 0.0]) - 0.5).abs() < 1e-6);
        assert!((area(&[1.0; 5]) - 1.0).abs() < 1e-6);
    }
}
