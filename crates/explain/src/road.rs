//! ROAD, "Remove And Debias" (Rong et al., ICML 2022), as pytorch-grad-cam's `metrics/road.py`
//! scores a map: remove the most (or the least) relevant pixels, fill them in by noisy linear
//! imputation (`imputation`), and see how the class probability changes; averaged over removing
//! 10% to 90% of the pixels. Imputing instead of blanking keeps the removed region's shape from
//! telling the network what was there. The pixels removed are those below (or above) the map's
//! percentile, as road.py thresholds them: pixels tied at the threshold go together, so a map
//! that is zero over 40% of the photo removes all of it at the 10th to 40th percentiles.

use crate::map::Map;

/// The share of pixels kept below the threshold, in percent: ROAD's defaults.
pub const PERCENTILES: [u32; 9] = [10, 20, 30, 40, 50, 60, 70, 80, 90];
/// The images one map is measured on: most relevant first removed at each percentile, then least.
pub const IMAGES: usize = 2 * PERCENTILES.len();
/// The imputation noise road.py adds (standard deviation, after preprocessing, in the network's
/// input units as road.py adds it: for a torchvision model a hundredth of a normalised unit,
/// about half a grey level; for the built-in Keras model, whose inputs run 0 to 255, a hundredth
/// of one).
pub const NOISE: f32 = 0.01;

/// The change in the class probability as pixels are imputed, averaged over [`PERCENTILES`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Road {
    /// Most relevant first removed: a faithful map makes the probability fall (lower is better).
    pub most_relevant_first: f32,
    /// Least relevant first removed: a faithful map keeps it (higher is better).
    pub least_relevant_first: f32,
    /// (least - most) / 2, pytorch-grad-cam's `ROADCombined` (higher is better).
    pub combined: f32,
}

/// NumPy's default (linear) percentile, `q` in percent, rounded to f32 as torch compares it.
fn percentile(values: &[f32], q: u32) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let position = f64::from(q) / 100.0 * (sorted.len() - 1) as f64;
    let (below, t) = (position.floor() as usize, position.fract());
    let (a, b) = (f64::from(sorted[below]), f64::from(sorted[(below + 1).min(sorted.len() - 1)]));
    // NumPy's lerp, which is exact at both ends.
    (if t < 0.5 { a + (b - a) * t } else { b - (b - a) * (1.0 - t) }) as f32
}

/// Which pixels each of ROAD's [`IMAGES`] keeps, for the raw `map` of a `height` x `width` photo.
pub(crate) fn kept_pixels(map: &Map, height: usize, width: usize) -> Vec<Vec<bool>> {
    let saliency = map.normalised().resized(height, width).values;
    // Least relevant first is most relevant first on the inverted map.
    let inverted: Vec<f32> = saliency.iter().map(|v| 1.0 - v).collect();
    let orders = [saliency, inverted];
    let removal = |values: &Vec<f32>| {
        PERCENTILES.map(|q| {
            // Pixels at or above the threshold are removed.
            let threshold = percentile(values, q);
            values.iter().map(|v| *v < threshold).collect::<Vec<bool>>()
        })
    };
    orders.iter().flat_map(removal).collect()
}

/// The scores from the class's probability on the `photo` and on each of ROAD's images.
pub(crate) fn road_from(photo: f32, probabilities: &[f32]) -> Road {
    let change = |part: &[f32]| part.iter().map(|p| p - photo).sum::<f32>() / part.len() as f32;
    let (most, least) = probabilities.split_at(PERCENTILES.len());
    let (most, least) = (change(most), change(least));
    Road { most_relevant_first: most, least_relevant_first: least, combined: (least - most) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_interpolate_as_numpy_does() {
        let values = [3.0, 1.0, 4.0, 1.5, 9.0];
        // np.percentile([3, 1, 4, 1.5, 9], [10, 50, 90]) = [1.2, 3.0, 7.0]
        assert!((percentile(&values, 10) - 1.2).abs() < 1e-6);
        assert_eq!(percentile(&values, 50), 3.0);
        assert!((percentile(&values, 90) - 7.0).abs() < 1e-6);
    }
}
