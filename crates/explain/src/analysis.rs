//! The one path from a preprocessed batch to what every front end shows: explain, read the
//! logits and the maps back, and name the class each map explains. The page, `xai explain`,
//! `xai eval` and `xai bench` all go through [`analyse`], so one pass of the network gives both
//! the classification and the explanation.

use burn::tensor::Tensor;
use xai_model::{Labels, Prediction};

use crate::map::Map;
use crate::pipeline::{explain, CamError, CamRequest, Target};
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
        xai_model::labels::softmax(&self.logits)[self.class]
    }
}

/// Explains each image of `input` [N, 3, S, S] as `request` says and reads the results back,
/// one [`Analysis`] per image.
pub async fn analyse(
    net: &xai_model::ResNet,
    input: &Tensor<4>,
    request: CamRequest<'_>,
) -> Result<Vec<Analysis>, CamError> {
    let explanation = explain(net, input, request)?;
    let [_, classes] = explanation.logits.dims();
    let logits = read_floats(explanation.logits).await?;
    let maps = read_maps(explanation.maps).await?;
    let analyses = logits.chunks(classes).zip(maps).enumerate().map(|(i, (logits, map))| {
        let class = match request.target {
            Target::Classes(ids) => ids[i],
            // The device picked the same maximum for the map's target.
            Target::TopClass => (0..classes).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap_or(0),
        };
        Analysis { logits: logits.to_vec(), class, map }
    });
    Ok(analyses.collect())
}
