//! How a model wants its pixels: the convention it was trained with, stored in its weight file.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// The means and standard deviations a normalisation may have, on RGB in [0, 1]: values of 0 to
/// 255 here would answer every photo wrongly, and a std below 0.01 blows a pixel's step up a
/// hundredfold.
pub const MEANS: std::ops::RangeInclusive<f32> = 0.0..=1.0;
pub const STDS: std::ops::RangeInclusive<f32> = 0.01..=1.0;

/// Three numbers, such as `0.4914, 0.4822, 0.4465`.
fn parse_triple(s: &str) -> Result<[f32; 3], String> {
    let values: Vec<f32> =
        s.split(',').map(|v| v.trim().parse::<f32>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    <[f32; 3]>::try_from(values)
        .ok()
        .filter(|v| v.iter().all(|x| x.is_finite()))
        .ok_or_else(|| format!("'{s}' is not three numbers such as 0.5,0.5,0.5"))
}

/// Values of RGB in [0, 1] are asked for; 0-255 ones (128, 64) would convert a model that
/// answers every photo wrongly, without a word.
const ON_UNIT_RGB: &str = "of RGB in [0, 1] (divide values of 0 to 255 by 255)";

/// A mean as the user gives it (`xai convert --mean`, the page's conversion options): three
/// numbers, each in [0, 1].
pub fn parse_mean(s: &str) -> Result<[f32; 3], String> {
    let mean = parse_triple(s)?;
    let fits = mean.iter().all(|x| MEANS.contains(x));
    fits.then_some(mean).ok_or_else(|| format!("'{s}': each must be from 0 to 1, {ON_UNIT_RGB}"))
}

/// A std as the user gives it: three numbers, each from 0.01 to 1 (photos are divided by them:
/// ImageNet's are 0.22).
pub fn parse_std(s: &str) -> Result<[f32; 3], String> {
    let std = parse_triple(s)?;
    let fits = std.iter().all(|x| STDS.contains(x));
    fits.then_some(std).ok_or_else(|| format!("'{s}': each must be from 0.01 to 1, {ON_UNIT_RGB}"))
}

/// Three statistics as a note shows them, to four decimals: f32's 0.224 is 0.22399999.
pub(crate) fn rounded(values: [f32; 3]) -> String {
    let shown = values.map(|v| (f64::from(v) * 1e4).round() / 1e4);
    format!("[{}, {}, {}]", shown[0], shown[1], shown[2])
}

/// Keras' ImageNet mean, in BGR order.
pub const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Preprocessing {
    /// Keras 'caffe': RGB to BGR, minus the ImageNet mean, no scaling.
    Caffe,
    /// torchvision's `Normalize`: RGB scaled to [0, 1], minus `mean`, over `std`, per channel.
    Normalize { mean: [f32; 3], std: [f32; 3] },
}

impl Preprocessing {
    /// torchvision's ImageNet statistics, which fine-tuned models keep.
    pub const IMAGENET: Preprocessing =
        Preprocessing::Normalize { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

    /// The crop as three planes in the network's channel order (CHW).
    pub fn planes(&self, image: &RgbImage) -> Vec<f32> {
        let plane = (image.width() * image.height()) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, pixel) in image.pixels().enumerate() {
            for channel in 0..3 {
                out[channel * plane + i] = match self {
                    Preprocessing::Caffe => f32::from(pixel[2 - channel]) - CAFFE_MEAN_BGR[channel],
                    Preprocessing::Normalize { mean, std } => {
                        (f32::from(pixel[channel]) / 255.0 - mean[channel]) / std[channel]
                    }
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caffe_planes_are_bgr_minus_mean() {
        let image = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let planes = Preprocessing::Caffe.planes(&image);
        assert_eq!(planes[0], 30.0 - 103.939);
        assert_eq!(planes[2], 20.0 - 116.779);
        assert_eq!(planes[5], 10.0 - 123.68);
    }

    #[test]
    fn normalize_planes_are_rgb_scaled_then_standardised() {
        let image = RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 51]));
        let planes = Preprocessing::IMAGENET.planes(&image);
        assert!((planes[0] - (1.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((planes[1] - (0.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!((planes[2] - (0.2 - 0.406) / 0.225).abs() < 1e-6);
    }

    #[test]
    fn it_round_trips_through_json() {
        for p in [Preprocessing::Caffe, Preprocessing::IMAGENET] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Preprocessing>(&json).unwrap(), p);
        }
        assert_eq!(serde_json::to_string(&Preprocessing::Caffe).unwrap(), r#"{"mode":"caffe"}"#);
    }
}
