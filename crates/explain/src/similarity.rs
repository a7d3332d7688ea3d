//! How alike two maps are, as the sanity checks measure it, by two of the measures of Adebayo et
//! al. 2018, section 3 (their HOG similarity is left out; the maps here are after a ReLU, so
//! Spearman's with and without absolute values are one):
//! Spearman's rank correlation (scipy's `spearmanr`: ties take their mean rank) and the
//! structural similarity index (scikit-image's `structural_similarity` with its defaults: a 7 x 7
//! uniform window, sample covariances, K1 = 0.01, K2 = 0.03, averaged away from the border).

use serde::Serialize;

use crate::map::Map;

/// Both measures, each 1 for identical maps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    pub spearman: f32,
    pub ssim: f32,
}

impl Similarity {
    /// The two raw maps as a visitor sees them: resized to `side` x `side` and scaled to [0, 1].
    pub fn between(original: &Map, other: &Map, side: usize) -> Self {
        Reference::new(original, side).similarity(other)
    }
}

/// A map that many others are compared with (a sanity check's original map, against each
/// step's): resized, scaled and ranked once.
#[derive(Debug, Clone)]
pub struct Reference {
    side: usize,
    seen: Map,
    ranks: Vec<f64>,
}

impl Reference {
    /// Whether the map is the same everywhere, ordering nothing.
    pub fn is_blank(&self) -> bool {
        self.ranks.windows(2).all(|pair| pair[0] == pair[1])
    }

    pub fn new(map: &Map, side: usize) -> Self {
        let seen = map.resized(side, side).normalised();
        let ranks = ranks(&seen.values);
        Self { side, seen, ranks }
    }

    /// [`Similarity::between`] this map and `other`.
    pub fn similarity(&self, other: &Map) -> Similarity {
        let other = other.resized(self.side, self.side).normalised();
        let spearman = pearson(&self.ranks, &ranks(&other.values)) as f32;
        Similarity { spearman, ssim: ssim(&self.seen, &other, 1.0) }
    }
}

/// Spearman's rank correlation. A constant map orders nothing, so it correlates 0 with any map
/// (scipy answers NaN there).
pub fn spearman(a: &[f32], b: &[f32]) -> f32 {
    pearson(&ranks(a), &ranks(b)) as f32
}

/// Ranks from 1, ties sharing the mean of the ranks they span.
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let end = start + order[start..].iter().take_while(|&&i| values[i] == value).count();
        let mean_rank = (start + end + 1) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = mean_rank);
        start = end;
    }
    ranks
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x - mean_a, y - mean_b);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

/// The window's side, and the border skimage leaves out of the mean.
const WINDOW: usize = 7;

/// The mean structural similarity of two maps of values spanning `data_range`.
pub fn ssim(a: &Map, b: &Map, data_range: f64) -> f32 {
    assert_eq!((a.height, a.width), (b.height, b.width), "maps of one size");
    let (h, w) = (a.height, a.width);
    if h < WINDOW || w < WINDOW {
        return if a == b { 1.0 } else { 0.0 };
    }
    let values = |map: &Map| map.values.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (x, y) = (values(a), values(b));
    let product = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(p, q)| p * q).collect::<Vec<f64>>();
    let sums = [&x, &y, &product(&x, &x), &product(&y, &y), &product(&x, &y)].map(|v| SummedArea::new(v, h, w));
    let np = (WINDOW * WINDOW) as f64;
    let covariance = np / (np - 1.0);
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let mut total = 0.0;
    let (rows, cols) = (h - WINDOW + 1, w - WINDOW + 1);
    for top in 0..rows {
        for left in 0..cols {
            let [mx, my, mxx, myy, mxy] = sums.each_ref().map(|s| s.window(top, left) / np);
            let (vx, vy, vxy) =
                (covariance * (mxx - mx * mx), covariance * (myy - my * my), covariance * (mxy - mx * my));
            total += (2.0 * mx * my + c1) * (2.0 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    }
    (total / (rows * cols) as f64) as f32
}

/// Sums over any window in constant time.
struct SummedArea {
    width: usize,
    /// (h + 1) x (w + 1): the sum of everything above and left of each corner.
    corners: Vec<f64>,
}

impl SummedArea {
    fn new(values: &[f64], h: usize, w: usize) -> Self {
        let mut corners = vec![0.0; (h + 1) * (w + 1)];
        for y in 0..h {
            for x in 0..w {
                corners[(y + 1) * (w + 1) + x + 1] =
                    values[y * w + x] + corners[y * (w + 1) + x + 1] + corners[(y + 1) * (w + 1) + x]
                        - corners[y * (w + 1) + x];
            }
        }
        Self { width: w + 1, corners }
    }

    fn window(&self, top: usize, left: usize) -> f64 {
        let at = |y: usize, x: usize| self.corners[y * self.width + x];
        let (bottom, right) = (top + WINDOW, left + WINDOW);
        at(bottom, right) - at(top, right) - at(bottom, left) + at(top, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(ranks(&[0.0, 3.0, 0.0, 1.0]), vec![1.5, 4.0, 1.5, 3.0]);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), 0.0);
    }

    #[test]
    fn a_map_is_structurally_identical_to_itself() {
        let map = Map::new(9, 8, (0..72).map(|i| (i as f32 * 0.37).sin().abs()).collect());
        assert!((ssim(&map, &map, 1.0) - 1.0).abs() < 1e-6);
        let inverted = Map::new(9, 8, map.values.iter().map(|v| 1.0 - v).collect());
        assert!(ssim(&map, &inverted, 1.0) < 0.0);
    }
}
