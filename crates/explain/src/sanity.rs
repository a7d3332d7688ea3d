//! Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018): a map worth trusting
//! depends on what the network learned and on the class it explains.
//!
//! - Model parameter randomization (section 4, "cascading"): the network's parts are
//!   re-initialised one after another from the top (the FC head, layer4, ..., the stem,
//!   [`xai_model::Architecture::cascade`]) and each time the map of the same class is compared with the
//!   original. A method that passes changes a lot.
//! - Random logit (section 5's data randomization, in the form Sixt et al. and Quantus use
//!   without retraining): the map of a random other class against the map of the explained class,
//!   decided by Spearman's rank correlation as the cascade is (Quantus's `RandomLogit` measures
//!   SSIM by default; both are reported).
//!
//! Every method asked for comes from one pass per step (`analyse_each`), so checking all seven
//! one-pass methods costs what checking one does: eight passes of the network.

use burn::tensor::Tensor;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use serde::Serialize;
use xai_model::{Layer, ResNet};

use crate::analysis::{analyse_each, Analysis};
use crate::map::Map;
use crate::methods::CamMethod;
use crate::pipeline::{CamError, Score, Target};
use crate::similarity::{Reference, Similarity};

/// Above this rank correlation a map has kept most of its order: the check fails. Adebayo et al.
/// give no threshold; this one is ours, and the numbers are always shown beside the verdict.
pub const SIMILAR: f32 = 0.5;

/// The map after one more part of the cascade was randomized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Randomized {
    /// The lowest part randomized so far: every part above it is random too.
    pub down_to: &'static str,
    #[serde(flatten)]
    pub similarity: Similarity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomLogit {
    /// The random other class whose map was compared.
    pub class: usize,
    #[serde(flatten)]
    pub similarity: Similarity,
}

/// Both checks of one method.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sanity {
    pub cascade: Vec<Randomized>,
    /// The lowest part whose step decides the randomization test: the explained layer. Steps
    /// below it randomize the activations themselves; they are measured and shown, but a map of
    /// a random network still follows the photo's edges (Adebayo et al., figure 2).
    pub decided_by: &'static str,
    pub random_logit: RandomLogit,
    /// The original map is the same everywhere: it highlights nothing, so it can show no
    /// dependence on the network or the class, and fails both checks.
    pub blank: bool,
    /// Both outcomes in one line a reader can act on.
    pub verdict: String,
}

impl Sanity {
    fn new(cascade: Vec<Randomized>, decided_by: &'static str, random_logit: RandomLogit, blank: bool) -> Self {
        let mut sanity = Self { cascade, decided_by, random_logit, blank, verdict: String::new() };
        sanity.verdict = sanity.verdict();
        sanity
    }

    pub fn passes_randomization(&self) -> bool {
        !self.blank && self.cascade_failure().is_none()
    }

    pub fn passes_random_logit(&self) -> bool {
        !self.blank && self.random_logit.similarity.spearman <= SIMILAR
    }

    /// The first deciding step after which the map kept its order, if any.
    fn cascade_failure(&self) -> Option<&Randomized> {
        let decided =
            self.cascade.iter().position(|step| step.down_to == self.decided_by).map_or(self.cascade.len(), |i| i + 1);
        self.cascade.iter().take(decided).find(|step| step.similarity.spearman > SIMILAR)
    }

    fn verdict(&self) -> String {
        if self.blank {
            return "fails both tests: the map is the same everywhere, so it shows nothing that could depend on the network or the class".into();
        }
        let parts = |down_to: &str| if down_to == "fc" { down_to.to_string() } else { format!("fc to {down_to}") };
        let cascade = match self.cascade_failure() {
            None => {
                format!("passes the randomization test (the map changes once {} are random)", parts(self.decided_by))
            }
            Some(step) => format!(
                "fails the randomization test (with {} random, the map still keeps rank correlation {:.2})",
                parts(step.down_to),
                step.similarity.spearman
            ),
        };
        let logit = if self.passes_random_logit() {
            "passes the random-class test"
        } else {
            "fails the random-class test (another class gets nearly the same map)"
        };
        format!("{cascade}; {logit}")
    }
}

/// Both checks for `methods` on one preprocessed photo [1, 3, S, S], one step at a time so that
/// a caller can show progress and stop between steps.
pub struct SanityCheck<'a> {
    net: &'a ResNet,
    input: &'a Tensor<4>,
    layer: Layer,
    methods: &'a [&'a dyn CamMethod],
    seed: u64,
    /// The target's score (a logit, a probability, a contrast), kept for every map compared.
    score: Score,
    /// Each method's analysis by the learned network: the class and the map every step keeps.
    originals: Vec<Analysis>,
    /// Their maps as every step compares them.
    references: Vec<Reference>,
    /// The network as randomized so far.
    randomized: Option<ResNet>,
    cascade: Vec<Vec<Randomized>>,
}

impl<'a> SanityCheck<'a> {
    /// The cascade's parts (six, five for a CIFAR ResNet), then the random logit.
    pub fn steps(&self) -> usize {
        self.net.architecture().cascade().len() + 1
    }

    /// Explains `target` with the learned network: the maps every step compares with. `seed`
    /// draws the random weights and the random class, so a check always gives the same numbers.
    pub async fn start(
        net: &'a ResNet,
        input: &'a Tensor<4>,
        layer: Layer,
        target: &Target,
        methods: &'a [&'a dyn CamMethod],
        seed: u64,
    ) -> Result<Self, CamError> {
        // The random class is neither the class explained nor a contrast's other class.
        let explained = if matches!(target.score, Score::Versus(_)) { 2 } else { 1 };
        if net.classes() <= explained {
            return Err(CamError::NoOtherClass(net.classes()));
        }
        let analyses = analyse_each(net, input, layer, target, methods, false).await?;
        let originals: Vec<Analysis> = analyses.into_iter().map(|mut per_image| per_image.remove(0)).collect();
        let side = input.dims()[2];
        let references = originals.iter().map(|original| Reference::new(&original.map, side)).collect();
        let cascade = vec![Vec::new(); methods.len()];
        let score = target.score;
        Ok(Self { net, input, layer, methods, seed, score, originals, references, randomized: None, cascade })
    }

    /// Each method's analysis by the learned network, in the order of the methods.
    pub fn originals(&self) -> &[Analysis] {
        &self.originals
    }

    /// The class the maps explain.
    pub fn class(&self) -> usize {
        self.originals[0].class
    }

    /// How many steps are done.
    pub fn done(&self) -> usize {
        self.cascade.first().map_or(self.steps(), Vec::len)
    }

    /// Runs the next step; after the last, every method's result.
    pub async fn step(&mut self) -> Result<Option<Vec<Sanity>>, CamError> {
        let (part, parts) = (self.done(), self.net.architecture().cascade());
        if part < parts.len() {
            let net = self.randomized.take().unwrap_or_else(|| self.net.clone()).with_random_part(part, self.seed);
            let maps = maps(&net, self.input, self.layer, self.target(self.class()), self.methods).await?;
            for ((cascade, original), map) in self.cascade.iter_mut().zip(&self.references).zip(&maps) {
                cascade.push(Randomized { down_to: parts[part], similarity: original.similarity(map) });
            }
            self.randomized = Some(net);
            return Ok(None);
        }
        // A contrast's other class is not drawn: its contrast with itself would map nothing.
        let mut excluded = vec![self.class()];
        excluded.extend(match self.score {
            Score::Versus(other) => Some(other),
            Score::Logit | Score::Probability => None,
        });
        let class = random_other_class(&excluded, self.net.classes(), self.seed);
        let maps = maps(self.net, self.input, self.layer, self.target(class), self.methods).await?;
        let results = self.cascade.drain(..).zip(&self.references).zip(&maps).map(|((cascade, original), map)| {
            let random_logit = RandomLogit { class, similarity: original.similarity(map) };
            Sanity::new(cascade, self.layer.name(), random_logit, original.is_blank())
        });
        Ok(Some(results.collect()))
    }

    /// `class` scored as the check's target is.
    fn target(&self, class: usize) -> Target {
        Target::classes(vec![class]).scoring(self.score)
    }

    /// Every step at once.
    pub async fn run(mut self) -> Result<Vec<Sanity>, CamError> {
        loop {
            if let Some(results) = self.step().await? {
                return Ok(results);
            }
        }
    }
}

/// Each method's raw map of `target`.
async fn maps(
    net: &ResNet,
    input: &Tensor<4>,
    layer: Layer,
    target: Target,
    methods: &[&dyn CamMethod],
) -> Result<Vec<Map>, CamError> {
    let analyses = analyse_each(net, input, layer, &target, methods, false).await?;
    Ok(analyses.into_iter().map(|mut per_image| per_image.remove(0).map).collect())
}

/// A class not among `excluded`, uniformly, from `seed`.
pub fn random_other_class(excluded: &[usize], classes: usize, seed: u64) -> usize {
    let mut excluded = excluded.to_vec();
    excluded.sort_unstable();
    excluded.dedup();
    let mut class = StdRng::seed_from_u64(seed).random_range(0..classes - excluded.len());
    // Step over each excluded class at or below the draw, in order.
    for skipped in excluded {
        if skipped <= class {
            class += 1;
        }
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods;
    use crate::testing::{network, photos};

    #[test]
    fn the_random_class_is_never_the_explained_one() {
        for seed in 0..50 {
            for excluded in [[0, 1], [998, 999], [5, 5], [999, 0]] {
                let other = random_other_class(&excluded, 1000, seed);
                assert!(!excluded.contains(&other) && other < 1000);
            }
        }
        // Only one class is left to draw.
        assert_eq!(random_other_class(&[0, 2], 3, 9), 1);
    }

    #[test]
    fn a_model_without_a_class_to_draw_is_refused_before_any_work() {
        use xai_model::{Architecture, NetworkParams, Preprocessing};
        let two = Architecture { classes: 2, ..Architecture::keras_resnet50() };
        let net = ResNet::new(&NetworkParams::patterned(two), Preprocessing::Caffe, &burn::tensor::Device::flex());
        let (input, methods) = (photos(1), [methods::by_name("gradcam").unwrap()]);
        let contrast = Target::classes(vec![0]).scoring(Score::Versus(1));
        let check = pollster::block_on(SanityCheck::start(&net, &input, Layer::Layer4, &contrast, &methods, 7));
        assert_eq!(check.err(), Some(CamError::NoOtherClass(2)));
    }

    #[test]
    fn a_map_that_is_the_same_everywhere_fails_both_checks() {
        use xai_model::Architecture;
        // A network whose maps are all zeros: every comparison sees a "change" (a constant map
        // correlates 0 with anything), which must not read as a pass.
        let blank = Map::new(7, 7, vec![0.0; 49]);
        let reference = Reference::new(&blank, 224);
        assert!(reference.is_blank());
        let step = |down_to| Randomized { down_to, similarity: reference.similarity(&blank) };
        let random_logit = RandomLogit { class: 1, similarity: reference.similarity(&blank) };
        let parts = Architecture::keras_resnet50().cascade();
        let sanity = Sanity::new(parts.into_iter().map(step).collect(), "layer4", random_logit, true);
        assert!(!sanity.passes_randomization() && !sanity.passes_random_logit());
        assert!(sanity.verdict.starts_with("fails both tests: the map is the same everywhere"), "{}", sanity.verdict);
        let varied = Map::new(7, 7, (0..49).map(|i| i as f32).collect());
        assert!(!Reference::new(&varied, 224).is_blank());
    }

    #[test]
    fn every_step_is_measured_for_every_method() {
        let (net, input) = (network(), photos(1));
        let methods = [methods::by_name("gradcam").unwrap(), methods::by_name("eigencam").unwrap()];
        let target = Target::classes(vec![3]);
        let check = pollster::block_on(SanityCheck::start(&net, &input, Layer::Layer4, &target, &methods, 7)).unwrap();
        assert_eq!((check.class(), check.done()), (3, 0));
        let results = pollster::block_on(check.run()).unwrap();
        assert_eq!(results.len(), 2);
        for sanity in &results {
            let parts: Vec<&str> = sanity.cascade.iter().map(|step| step.down_to).collect();
            assert_eq!(parts, ["fc", "layer4", "layer3", "layer2", "layer1", "conv1"]);
            assert_ne!(sanity.random_logit.class, 3);
        }
        // EigenCAM ignores the class and the head: randomizing the FC layer leaves its map as it
        // was, which is exactly what the check is there to reveal.
        let eigencam = &results[1];
        assert!(eigencam.cascade[0].similarity.spearman > 0.999, "{:?}", eigencam.cascade[0]);
        assert!(!eigencam.passes_random_logit());
        assert!(eigencam.cascade.last().unwrap().similarity.spearman < 0.999);
    }
}
