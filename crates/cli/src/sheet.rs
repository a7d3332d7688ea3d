//! One PNG for a whole `xai explain` run: a column per method, named above it, and a row per
//! photo, with its file and class above it, so that the methods can be compared at a glance (and
//! the picture put in a report as it is).

use image::imageops::{self, FilterType};
use image::{Rgba, RgbaImage};

use crate::legend;

/// Each overlay's side in the sheet: the network's input size.
const CELL: u32 = 224;
/// The white space between cells and around them.
const GAP: u32 = 8;
const INK: Rgba<u8> = Rgba([20, 20, 20, 255]);
const PAPER: Rgba<u8> = Rgba([255; 4]);

pub struct Sheet {
    header: RgbaImage,
    rows: Vec<RgbaImage>,
}

impl Sheet {
    /// An empty sheet with these column names.
    pub fn new(columns: &[&str]) -> Self {
        // The names with white space above and below, apart from the first photo's label.
        let mut header =
            RgbaImage::from_pixel(GAP + columns.len() as u32 * (CELL + GAP), 2 * GAP + legend::LINE, PAPER);
        for (c, name) in columns.iter().enumerate() {
            legend::draw(&mut header, name, column_left(c), GAP, INK);
        }
        Sheet { header, rows: Vec::new() }
    }

    /// Starts a photo's row, with `label` above it (the row widens to fit it).
    pub fn add_row(&mut self, label: &str) {
        let width = self.header.width().max(2 * GAP + legend::width(label));
        let mut row = RgbaImage::from_pixel(width, legend::LINE + CELL + GAP, PAPER);
        legend::draw(&mut row, label, GAP, 0, INK);
        self.rows.push(row);
    }

    /// Puts an overlay in the newest row's `column`, scaled to [`CELL`] (overlays are square: the
    /// network's crop of the photo).
    pub fn put(&mut self, column: usize, overlay: &RgbaImage) {
        let scaled;
        let cell = match overlay.dimensions() {
            (CELL, CELL) => overlay,
            _ => {
                scaled = imageops::resize(overlay, CELL, CELL, FilterType::Triangle);
                &scaled
            }
        };
        let row = self.rows.last_mut().expect("a row started first");
        imageops::replace(row, cell, i64::from(column_left(column)), i64::from(legend::LINE));
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// The header and the rows, one under another, as wide as the widest (the others padded),
    /// each freed once copied.
    pub fn render(self) -> RgbaImage {
        let parts = || std::iter::once(&self.header).chain(&self.rows);
        let width = parts().map(RgbaImage::width).max().unwrap_or(0);
        let height = parts().map(RgbaImage::height).sum::<u32>();
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 4);
        for part in std::iter::once(self.header).chain(self.rows) {
            let padding = PAPER.0.repeat((width - part.width()) as usize);
            for line in part.chunks(part.width() as usize * 4) {
                pixels.extend_from_slice(line);
                pixels.extend_from_slice(&padding);
            }
        }
        RgbaImage::from_raw(width, height, pixels).expect("width x height pixels")
    }
}

/// Where column `c`'s cells start.
fn column_left(c: usize) -> u32 {
    GAP + c as u32 * (CELL + GAP)
}
