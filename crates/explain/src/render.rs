//! Maps to pixels, on the host, shared by the CLI and the web app: colormaps, alpha blending
//! and the DFF composite. Output is RGBA.

use colorgrad::Gradient;
use image::{Rgb, RgbImage, RgbaImage};

use crate::map::Map;

/// Colormaps for heatmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colormap {
    Jet,
    Turbo,
    Viridis,
    Inferno,
}

impl Colormap {
    pub const ALL: [Colormap; 4] = [Colormap::Jet, Colormap::Turbo, Colormap::Viridis, Colormap::Inferno];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Jet => "jet",
            Colormap::Turbo => "turbo",
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
        }
    }

    fn gradient(self) -> Box<dyn Gradient> {
        match self {
            // Jet is piecewise linear through these colours (MATLAB's definition); colorgrad
            // has no preset for it.
            Colormap::Jet => Box::new(
                colorgrad::GradientBuilder::new()
                    .html_colors(&["#00007f", "#0000ff", "#00ffff", "#7fff7f", "#ffff00", "#ff0000", "#7f0000"])
                    .domain(&[0.0, 0.125, 0.375, 0.5, 0.625, 0.875, 1.0])
                    .build::<colorgrad::LinearGradient>()
                    .expect("valid colours"),
            ),
            Colormap::Turbo => Box::new(colorgrad::preset::turbo()),
            Colormap::Viridis => Box::new(colorgrad::preset::viridis()),
            Colormap::Inferno => Box::new(colorgrad::preset::inferno()),
        }
    }

    /// A 256-entry lookup table.
    pub fn lut(self) -> Vec<[u8; 3]> {
        let gradient = self.gradient();
        (0..256)
            .map(|i| {
                let [r, g, b, _] = gradient.at(i as f32 / 255.0).to_rgba8();
                [r, g, b]
            })
            .collect()
    }
}

impl std::str::FromStr for Colormap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Colormap::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown colormap '{s}' (valid: {})", Colormap::ALL.map(Colormap::name).join(", ")))
    }
}

/// The photo with the heatmap blended over it: `alpha` of the colour, `1 - alpha` of the photo.
/// The map is resized to the photo and normalised first.
pub fn overlay(photo: &RgbImage, map: &Map, colormap: Colormap, alpha: f32) -> RgbaImage {
    let (w, h) = photo.dimensions();
    let heat = map.resized(h as usize, w as usize).normalised();
    let lut = colormap.lut();
    RgbaImage::from_fn(w, h, |x, y| {
        let colour = lut[(heat.values[(y * w + x) as usize] * 255.0).round() as usize];
        let Rgb(pixel) = *photo.get_pixel(x, y);
        let mix = |c: u8, p: u8| (alpha * f32::from(c) + (1.0 - alpha) * f32::from(p)).round() as u8;
        image::Rgba([mix(colour[0], pixel[0]), mix(colour[1], pixel[1]), mix(colour[2], pixel[2]), 255])
    })
}

/// `count` evenly spaced, fully saturated hues, one per DFF concept.
pub fn concept_colours(count: usize) -> Vec<[u8; 3]> {
    (0..count)
        .map(|i| {
            let [r, g, b, _] = colorgrad::Color::from_hsva(360.0 * i as f32 / count as f32, 1.0, 1.0, 1.0).to_rgba8();
            [r, g, b]
        })
        .collect()
}

/// The DFF composite: each pixel takes the colour of its strongest concept, with brightness from
/// that concept's map (in [0, 1]), blended over the photo, as pytorch-grad-cam's
/// `show_factorization_on_image`; the maps come scaled over all photos, not each on its own.
pub fn concept_composite(photo: &RgbImage, concept_maps: &[Map], alpha: f32) -> RgbaImage {
    let (w, h) = photo.dimensions();
    let maps: Vec<Map> = concept_maps.iter().map(|m| m.resized(h as usize, w as usize)).collect();
    let colours = concept_colours(maps.len());
    RgbaImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        let (best, value) = maps
            .iter()
            .enumerate()
            .map(|(k, m)| (k, m.values[i].clamp(0.0, 1.0)))
            .fold((0, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        let Rgb(pixel) = *photo.get_pixel(x, y);
        let mix = |c: u8, p: u8| (alpha * f32::from(c) * value + (1.0 - alpha) * f32::from(p)).round() as u8;
        let c = colours[best];
        image::Rgba([mix(c[0], pixel[0]), mix(c[1], pixel[1]), mix(c[2], pixel[2]), 255])
    })
}

/// Concept `k`'s maps alone: the others' maps zero, so a composite paints only that concept.
pub fn only_concept(maps: &[Map], k: usize) -> Vec<Map> {
    let zero = |map: &Map| Map::new(map.height, map.width, vec![0.0; map.values.len()]);
    maps.iter().enumerate().map(|(i, map)| if i == k { map.clone() } else { zero(map) }).collect()
}

/// An example region of concept `k` (of `maps.len()`, so it keeps its colour): a square of half
/// the photo's side around the cell (`row`, `col`) of its map, with the concept painted alone.
pub fn concept_region(photo: &RgbImage, maps: &[Map], k: usize, (row, col): (usize, usize)) -> RgbaImage {
    let painted = concept_composite(photo, &only_concept(maps, k), 0.5);
    let (w, h) = photo.dimensions();
    let side = w.min(h) / 2;
    let centre = |cell: usize, cells: usize, length: u32| ((cell as f32 + 0.5) * length as f32 / cells as f32) as u32;
    let x = centre(col, maps[k].width, w).saturating_sub(side / 2).min(w - side);
    let y = centre(row, maps[k].height, h).saturating_sub(side / 2).min(h - side);
    image::imageops::crop_imm(&painted, x, y, side, side).to_image()
}

/// Photos a row of [`concept_composites`] holds: fifty photos in one row would be 11,200 px wide.
pub const COMPOSITES_PER_ROW: usize = 8;

/// The composites of several photos factorised together in one image, in rows of at most
/// [`COMPOSITES_PER_ROW`].
pub fn concept_composites(photos: &[RgbImage], maps: &[Vec<Map>], alpha: f32) -> RgbaImage {
    let (w, h) = photos[0].dimensions();
    let (columns, rows) = (photos.len().min(COMPOSITES_PER_ROW), photos.len().div_ceil(COMPOSITES_PER_ROW));
    let mut canvas = RgbaImage::new(w * columns as u32, h * rows as u32);
    for (i, (photo, maps)) in photos.iter().zip(maps).enumerate() {
        let (column, row) = ((i % COMPOSITES_PER_ROW) as i64, (i / COMPOSITES_PER_ROW) as i64);
        let composite = concept_composite(photo, maps, alpha);
        image::imageops::replace(&mut canvas, &composite, column * i64::from(w), row * i64::from(h));
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_blends_the_colormap_of_the_normalised_map_over_the_photo() {
        let photo = RgbImage::from_pixel(2, 2, Rgb([100, 100, 100]));
        // One row, low on the left and high on the right: enlarged to 2 x 2, then scaled to [0, 1].
        let map = Map::new(1, 2, vec![3.0, 7.0]);
        let opaque = overlay(&photo, &map, Colormap::Jet, 1.0);
        assert_eq!((opaque.get_pixel(0, 1).0, opaque.get_pixel(1, 0).0), ([0, 0, 127, 255], [127, 0, 0, 255]));
        let half = overlay(&photo, &map, Colormap::Jet, 0.5);
        assert_eq!((half.get_pixel(0, 0).0, half.get_pixel(1, 1).0), ([50, 50, 114, 255], [114, 50, 50, 255]));
        let hidden = overlay(&photo, &map, Colormap::Jet, 0.0);
        assert!(hidden.pixels().all(|p| p.0 == [100, 100, 100, 255]));
    }

    #[test]
    fn colormaps_run_from_dark_or_blue_to_bright_or_red() {
        let jet = Colormap::Jet.lut();
        assert_eq!((jet[0], jet[255]), ([0, 0, 127], [127, 0, 0]));
        assert!("plasma".parse::<Colormap>().unwrap_err().contains("jet, turbo, viridis, inferno"));
        let colours = concept_colours(3);
        assert_eq!(colours[0], [255, 0, 0]);
    }

    #[test]
    fn a_concept_region_is_half_the_photo_around_its_cell_painted_in_its_colour() {
        let photo = RgbImage::from_pixel(8, 8, Rgb([0, 0, 0]));
        let (low, high) = (Map::new(2, 2, vec![1.0, 0.0, 0.0, 0.0]), Map::new(2, 2, vec![0.0, 0.0, 0.0, 1.0]));
        // Concept 1 (green of three) peaks in the bottom-right cell: the region is that quarter.
        let region = concept_region(&photo, &[low, high, Map::new(2, 2, vec![0.0; 4])], 1, (1, 1));
        assert_eq!(region.dimensions(), (4, 4));
        assert_eq!(region.get_pixel(3, 3).0, [0, 128, 0, 255]);
        assert!(region.get_pixel(0, 0).0[1] < 64, "the map fades towards the photo's centre");
    }

    #[test]
    fn many_composites_wrap_into_rows() {
        // Photo i is grey level 10 i, under an empty map: its composite is the photo at half.
        let photos: Vec<RgbImage> = (0..10).map(|i| RgbImage::from_pixel(2, 3, Rgb([10 * i as u8; 3]))).collect();
        let maps = vec![vec![Map::new(1, 1, vec![0.0])]; photos.len()];
        let canvas = concept_composites(&photos, &maps, 0.5);
        assert_eq!(canvas.dimensions(), (2 * COMPOSITES_PER_ROW as u32, 3 * 2));
        let grey = |x: u32, y: u32| canvas.get_pixel(x, y).0[0];
        assert_eq!((grey(0, 0), grey(15, 2), grey(0, 3), grey(3, 5)), (0, 35, 40, 45));
        assert_eq!(canvas.get_pixel(4, 3).0[3], 0, "the second row's empty places stay transparent");
    }
}
