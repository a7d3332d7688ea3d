//! Every score of a map, `metrics`' and `road`'s, from the class's probability on altered copies
//! of the photo: [`metrics::IMAGES`] for the faithfulness curves, then [`road::IMAGES`] imputed
//! ones. A [`Scorer`] scores the maps of one photo for one class: what they all share (the
//! curves' ends, [`Baseline`]) is measured once, and a map that normalises to the saliency of one
//! already scored gets its scores (at layer4 Grad-CAM, HiResCAM, XGradCAM and CAM do: their
//! gradients are the same at every position there). [`MapScoring`] runs one map's images a pass
//! at a time (a whole curve on a GPU, memory allowing; a few images on the CPU, where larger
//! batches are no faster), so that the page can show how far it is and take a cancel between
//! passes.

use std::ops::Range;

use burn::tensor::{Tensor, TensorData};
use xai_model::ResNet;

use crate::budget::images_per_pass_on;
use crate::imputation::impute;
use crate::map::Map;
use crate::metrics::{self, class_probabilities, faithfulness_from, faithfulness_images, Baseline, Metric, Scores};
use crate::readback::{read_floats, ReadbackError};
use crate::road::{self, kept_pixels, road_from};

/// Scores the maps of one preprocessed photo [1, 3, S, S] for one class.
pub struct Scorer<'a> {
    net: &'a ResNet,
    input: &'a Tensor<4>,
    class: usize,
    baseline: Baseline,
    /// The photo's pixels [3, S, S], which ROAD imputes from, and the deviation of the noise
    /// it adds.
    photo: Vec<f32>,
    noise: f32,
    /// The images each map is scored on: all of them, or only those some metrics read.
    images: Vec<Range<usize>>,
    scored: Vec<(&'static str, Map, Scores)>,
}

impl<'a> Scorer<'a> {
    /// Measures what every map of the photo shares: one pass of two images.
    pub async fn new(net: &'a ResNet, input: &'a Tensor<4>, class: usize) -> Result<Self, ReadbackError> {
        Self::with_noise(net, input, class, road::NOISE).await
    }

    /// As [`Self::new`], ROAD's imputed pixels getting noise of deviation `noise` instead of
    /// road.py's.
    pub async fn with_noise(
        net: &'a ResNet,
        input: &'a Tensor<4>,
        class: usize,
        noise: f32,
    ) -> Result<Self, ReadbackError> {
        let baseline = Baseline::of(net, input, class).await?;
        let photo = read_floats(input.clone()).await?;
        let images = std::iter::once(0..metrics::IMAGES + road::IMAGES).collect();
        Ok(Self { net, input, class, baseline, photo, noise, images, scored: Vec::new() })
    }

    /// Scores only what `wanted` read (`xai eval --metric drop` needs one image of the 49); the
    /// other scores are not measured (NaN, and for drop and increase 0 and false).
    pub fn only(mut self, wanted: &[Metric]) -> Self {
        let mut images: Vec<Range<usize>> = wanted.iter().map(|m| m.images()).collect();
        images.sort_by_key(|range| range.start);
        images.dedup_by(|later, earlier| {
            let overlap = later.start <= earlier.end;
            if overlap {
                earlier.end = earlier.end.max(later.end);
            }
            overlap
        });
        self.images = images;
        self
    }

    /// The method whose map, scored before, has the saliency of `map`, and its scores.
    pub fn scored_like(&self, map: &Map) -> Option<(&'static str, Scores)> {
        let same = self.scored.iter().find(|(_, scored, _)| scored.same_saliency(map));
        same.map(|(method, _, scores)| (*method, scores.clone()))
    }

    /// Keeps `method`'s scores for the maps like its `map` that come later.
    pub fn keep(&mut self, method: &'static str, map: Map, scores: Scores) {
        self.scored.push((method, map, scores));
    }

    /// Starts scoring the raw `map`, a pass at a time.
    pub fn map(&self, map: &Map) -> MapScoring<'_> {
        let [_, _, height, width] = self.input.dims();
        MapScoring {
            scorer: self,
            curves: faithfulness_images(self.input, map),
            kept: kept_pixels(map, height, width),
            imputed: Vec::new(),
            probabilities: vec![f32::NAN; metrics::IMAGES + road::IMAGES],
            next: self.images.first().map_or(0, |range| range.start),
            scored: 0,
        }
    }

    /// `method`'s raw `map` scored to the end (or given the scores of a map like it), and kept.
    pub async fn scores(&mut self, method: &'static str, map: Map) -> Result<Scores, ReadbackError> {
        if let Some((_, scores)) = self.scored_like(&map) {
            return Ok(scores);
        }
        let mut scoring = self.map(&map);
        let scores = loop {
            if let Some(scores) = scoring.step().await? {
                break scores;
            }
        };
        self.keep(method, map, scores.clone());
        Ok(scores)
    }
}

/// One map's images, scored a pass at a time.
pub struct MapScoring<'a> {
    scorer: &'a Scorer<'a>,
    curves: Tensor<4>,
    /// What each of ROAD's images keeps of the photo.
    kept: Vec<Vec<bool>>,
    /// ROAD's images imputed for the next pass (only those, so that a large photo's 18 are
    /// never held at once).
    imputed: Vec<Vec<f32>>,
    /// The class's probability on each image, NaN on those not scored.
    probabilities: Vec<f32>,
    /// The next image to score, and how many have been.
    next: usize,
    scored: usize,
}

impl MapScoring<'_> {
    /// Images scored, of how many.
    pub fn progress(&self) -> (usize, usize) {
        (self.scored, self.scorer.images.iter().map(ExactSizeIterator::len).sum())
    }

    /// The next step: a pass, or in the page one of the imputations ROAD's next pass needs
    /// (natively they all run at once, over the cores); after the last pass (and at any step
    /// after it), the scores.
    pub async fn step(&mut self) -> Result<Option<Scores>, ReadbackError> {
        let Scorer { net, class, ref images, .. } = *self.scorer;
        let (scored, total) = self.progress();
        if scored == total {
            return Ok(Some(self.scores()));
        }
        let [_, channels, height, width] = self.curves.dims();
        let device = self.curves.device();
        // A pass never spans two curves (the dimmed photo goes with insertion's, ROAD's two
        // orders are one), so that on a GPU each curve is one batch.
        let start = self.next;
        let range = images.iter().find(|range| range.contains(&start)).expect("an image left");
        let curve_ends = [1 + (metrics::STEPS - 1), metrics::IMAGES, range.end];
        let curve_end = curve_ends.into_iter().find(|&end| end > start).unwrap_or(range.end).min(range.end);
        let end = start + images_per_pass_on(&device, height, width, curve_end - start);
        let batch = if start < metrics::IMAGES {
            self.curves.clone().slice_dim(0, start..end)
        } else {
            let (first, last) = (start - metrics::IMAGES, end - metrics::IMAGES);
            self.impute(first, last);
            if self.imputed.len() < last - first {
                return Ok(None);
            }
            let pixels = self.imputed.drain(..).flatten().collect();
            Tensor::from_data(TensorData::new(pixels, [last - first, channels, height, width]), &device)
        };
        let probabilities = class_probabilities(net, batch, class).await?;
        self.probabilities[start..end].copy_from_slice(&probabilities);
        self.scored += end - start;
        self.next = images.iter().find(|range| range.end > end).map_or(end, |range| range.start.max(end));
        Ok((self.scored == total).then(|| self.scores()))
    }

    fn scores(&self) -> Scores {
        let baseline = self.scorer.baseline;
        let (curves, road) = self.probabilities.split_at(metrics::IMAGES);
        Scores { faithfulness: faithfulness_from(baseline, curves), road: road_from(baseline.photo, road) }
    }

    /// Imputes ROAD's images `first..last` for the next pass: natively all of them over the
    /// cores, in the page the next one (the page paints between steps). Each image's noise is
    /// seeded by its index, so a map always gets the same scores.
    fn impute(&mut self, first: usize, last: usize) {
        let [_, _, height, width] = self.curves.dims();
        let Scorer { photo, noise, .. } = self.scorer;
        let (kept, next) = (&self.kept, first + self.imputed.len());
        let image = |index: usize| impute(photo, height, width, &kept[index], *noise, index as u64);
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            let images: Vec<Vec<f32>> = (next..last).into_par_iter().map(image).collect();
            self.imputed.extend(images);
        }
        #[cfg(target_arch = "wasm32")]
        if next < last {
            self.imputed.push(image(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{network, photos};

    #[test]
    fn a_map_like_one_scored_gets_its_scores_and_any_other_is_scored() {
        let (net, input) = (network(), photos(1));
        let mut scorer = pollster::block_on(Scorer::new(&net, &input, 3)).unwrap();
        let map = Map::new(2, 2, vec![0.0, 1.0, 2.0, 3.0]);
        let scores = pollster::block_on(scorer.scores("a", map.clone())).unwrap();
        // Twice the map, as CAM is Grad-CAM times the map's area at layer4.
        let like = Map::new(2, 2, vec![0.0, 2.0, 4.0, 6.0]);
        assert_eq!(scorer.scored_like(&like), Some(("a", scores.clone())));
        let other = Map::new(2, 2, vec![3.0, 2.0, 1.0, 0.0]);
        assert_eq!(scorer.scored_like(&other), None);
        let other_scores = pollster::block_on(scorer.scores("b", other)).unwrap();
        assert_ne!(other_scores.faithfulness, scores.faithfulness);
    }

    #[test]
    fn only_the_images_some_metrics_read_are_scored_and_give_their_scores() {
        let (net, input) = (network(), photos(1));
        let map = Map::new(2, 2, vec![0.0, 1.0, 2.0, 3.0]);
        let mut all = pollster::block_on(Scorer::new(&net, &input, 3)).unwrap();
        let every = pollster::block_on(all.scores("a", map.clone())).unwrap();
        let wanted = [Metric::Insertion, Metric::RoadLeast, Metric::Drop];
        let mut some = pollster::block_on(Scorer::new(&net, &input, 3)).unwrap().only(&wanted);
        assert_eq!(some.map(&map).progress(), (0, 1 + (metrics::STEPS - 1) + road::PERCENTILES.len()));
        let scores = pollster::block_on(some.scores("a", map)).unwrap();
        for metric in Metric::ALL {
            let (value, expected) = (metric.value(&scores), metric.value(&every));
            if wanted.contains(&metric) {
                // (Not bit for bit: the passes group the images otherwise.)
                assert!((value - expected).abs() < 1e-4, "{}: {value} against {expected}", metric.name());
            } else if metric != Metric::Increase {
                assert!(value.is_nan(), "{} scored", metric.name());
            }
        }
    }
}
