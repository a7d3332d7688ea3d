//! Text drawn into the PNGs the CLI writes, so a picture carries its own legend: font8x8's
//! public-domain 8 x 8 glyphs (Basic Latin and Latin-1), scaled up by whole pixels.

use font8x8::{UnicodeFonts, BASIC_FONTS, LATIN_FONTS};
use image::{Rgba, RgbaImage};

/// Pixels per glyph pixel: 16 px tall text.
pub const SCALE: u32 = 2;
/// The height of one line of text, with its spacing.
pub const LINE: u32 = 8 * SCALE + 6;

/// The width `text` takes.
pub fn width(text: &str) -> u32 {
    text.chars().count() as u32 * 8 * SCALE
}

/// Draws `text` with its top left at (x, y); what falls outside the canvas is left out, and a
/// character the font lacks shows as '?'.
pub fn draw(canvas: &mut RgbaImage, text: &str, x: u32, y: u32, colour: Rgba<u8>) {
    for (i, c) in text.chars().enumerate() {
        let glyph =
            BASIC_FONTS.get(c).or_else(|| LATIN_FONTS.get(c)).or_else(|| BASIC_FONTS.get('?')).unwrap_or_default();
        let left = x + i as u32 * 8 * SCALE;
        for (row, bits) in glyph.iter().enumerate() {
            // Bit b of a row is column b, from the left.
            for column in (0..8).filter(|b| bits >> b & 1 == 1) {
                for (dy, dx) in (0..SCALE).flat_map(|dy| (0..SCALE).map(move |dx| (dy, dx))) {
                    let (px, py) = (left + column * SCALE + dx, y + row as u32 * SCALE + dy);
                    if px < canvas.width() && py < canvas.height() {
                        canvas.put_pixel(px, py, colour);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_where_asked_and_clipped_at_the_edge() {
        let mut canvas = RgbaImage::from_pixel(40, 20, Rgba([255; 4]));
        draw(&mut canvas, "Hi é☃", 0, 2, Rgba([0, 0, 0, 255]));
        let dark = |x0: u32, x1: u32| {
            (x0..x1).flat_map(|x| (0..20).map(move |y| (x, y))).filter(|&(x, y)| canvas.get_pixel(x, y)[0] == 0).count()
        };
        assert!(dark(0, 16) > 20, "an H");
        assert_eq!(canvas.get_pixel(0, 0)[0], 255, "nothing above the text");
        assert_eq!(width("Hi é☃"), 5 * 16);
    }
}
