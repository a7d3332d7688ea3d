//! The one path from a preprocessed batch to what every front end shows: explain, read the
//! logits and the maps back, and name the class each map explains. The page, `xai explain`,
//! `xai eval` and `xai bench` all go through [`analyse`], so one pass of the network gives both
//! the classification and the explanation; the compare view and `xai eval --method all` go
//! through [`analyse_each`], one pass for every method.

use burn::tensor::Tensor;
use xai_model::{Labels, Layer, Prediction};

use crate::map::Map;
use crate::methods::CamMethod;
use crate::pipeline::{explain_each, CamError, CamRequest, Explanation, Score, Target};
use crate::readback::{read_floats, read_maps};

/// One image's classification and explanation, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub logits: Vec<f32>,
    /// The class the map explains: the requested one, or the most probable.
    pub class: usize,
    /// The raw map at the layer's resolution (after the ReLU, before normalisation).
    pub map: Map,
}

impl Analysis {
    /// The `k` most probable classes.
    pub fn top(&self, labels: &Labels, k: usize) -> Vec<Prediction> {
        labels.top(&self.logits, k)
    }

    /// The probability of the explained class.
    pub fn probability(&self) -> f32 {
        xai_model::labels::probabilities(&self.logits)[self.class]
    }
}

/// Explains each image of `input` [N, 3, S, S] as `request` says and reads the results back,
/// one [`Analysis`] per image.
pub async fn analyse(
    net: &xai_model::ResNet,
    input: &Tensor<4>,
    request: CamRequest<'_>,
) -> Result<Vec<Analysis>, CamError> {
    let CamRequest { layer, target, method, eigen_smooth } = request;
    Ok(analyse_each(net, input, layer, target, &[method], eigen_smooth).await?.remove(0))
}

/// [`analyse`] for each of `methods` from one shared pass ([`explain_each`]): per method, one
/// [`Analysis`] per image.
pub async fn analyse_each(
    net: &xai_model::ResNet,
    input: &Tensor<4>,
    layer: Layer,
    target: &Target,
    methods: &[&dyn CamMethod],
    eigen_smooth: bool,
) -> Result<Vec<Vec<Analysis>>, CamError> {
    read_explanations(explain_each(net, input, layer, target, methods, eigen_smooth)?, target).await
}

/// Explanations of the same pass, for `target`, read back: per explanation, one [`Analysis`] per
/// image.
pub(crate) async fn read_explanations(
    explanations: Vec<Explanation>,
    target: &Target,
) -> Result<Vec<Vec<Analysis>>, CamError> {
    let Some(first) = explanations.first() else { return Ok(Vec::new()) };
    let [_, classes] = first.logits.dims();
    // The same logits for every method: read once.
    let logits = read_floats(first.logits.clone()).await?;
    let classes_explained: Vec<usize> = logits
        .chunks(classes)
        .enumerate()
        .map(|(i, logits)| match &target.classes {
            Some(ids) => ids[i],
            // The device picked the same maximum for the map's target.
            None => (0..classes).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap_or(0),
        })
        .collect();
    // Known only now for the top class: a contrast with itself, whose map is empty.
    if let Score::Versus(other) = target.score
        && classes_explained.contains(&other)
    {
        return Err(CamError::VersusItself(other));
    }
    let mut analyses = Vec::with_capacity(explanations.len());
    for explanation in explanations {
        let maps = read_maps(explanation.maps).await?;
        let per_image = logits.chunks(classes).zip(maps).zip(&classes_explained);
        analyses
            .push(per_image.map(|((logits, map), &class)| Analysis { logits: logits.to_vec(), class, map }).collect());
    }
    Ok(analyses)
}
