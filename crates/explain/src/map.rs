//! A class activation map on the host, and the two operations every consumer applies to it:
//! bilinear resizing (OpenCV's convention) and min-max normalisation.

/// A map of `height` x `width` values, row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Map {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl Map {
    pub fn new(height: usize, width: usize, values: Vec<f32>) -> Self {
        assert_eq!(values.len(), height * width, "map size");
        Self { height, width, values }
    }

    /// Bilinear resize with half-pixel centres and clamped borders (OpenCV's INTER_LINEAR when
    /// enlarging, as pytorch-grad-cam uses to bring maps to the image).
    pub fn resized(&self, height: usize, width: usize) -> Map {
        let axis = |out: usize, len: usize| -> Vec<(usize, usize, f32)> {
            (0..out)
                .map(|o| {
                    let x = ((o as f32 + 0.5) * len as f32 / out as f32 - 0.5).clamp(0.0, (len - 1) as f32);
                    let lo = x.floor() as usize;
                    (lo, (lo + 1).min(len - 1), x - lo as f32)
                })
                .collect()
        };
        let (rows, cols) = (axis(height, self.height), axis(width, self.width));
        let at = |y: usize, x: usize| self.values[y * self.width + x];
        let values = rows
            .iter()
            .flat_map(|&(y0, y1, fy)| {
                cols.iter().map(move |&(x0, x1, fx)| {
                    let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
                    let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
                    top * (1.0 - fy) + bottom * fy
                })
            })
            .collect();
        Map::new(height, width, values)
    }

    /// Min-max scaled to [0, 1] (pytorch-grad-cam's `scale_cam_image`, same epsilon).
    pub fn normalised(&self) -> Map {
        let min = self.values.iter().copied().fold(f32::INFINITY, f32::min);
        let max = self.values.iter().map(|v| v - min).fold(0.0, f32::max);
        Map::new(self.height, self.width, self.values.iter().map(|v| (v - min) / (max + 1e-7)).collect())
    }

    /// Whether both normalise to the same values (within 1e-5): one map a positive multiple of
    /// the other, up to rounding.
    pub fn same_saliency(&self, other: &Map) -> bool {
        let (a, b) = (self.normalised(), other.normalised());
        (a.height, a.width) == (b.height, b.width) && a.values.iter().zip(&b.values).all(|(a, b)| (a - b).abs() <= 1e-5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_constant_maps_and_interpolates_between_centres() {
        let map = Map::new(1, 2, vec![0.0, 1.0]);
        let big = map.resized(1, 4);
        assert_eq!(big.values, vec![0.0, 0.25, 0.75, 1.0]);
        let flat = Map::new(2, 2, vec![3.0; 4]).resized(5, 7);
        assert!(flat.values.iter().all(|v| *v == 3.0));
    }

    #[test]
    fn normalised_spans_zero_to_one() {
        let map = Map::new(1, 3, vec![2.0, 4.0, 6.0]).normalised();
        assert!(map.values[0] == 0.0 && (map.values[2] - 1.0).abs() < 1e-6);
    }
}
