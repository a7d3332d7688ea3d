//! Pixels onto the page: RGBA images into canvases, and canvases out as PNG downloads.

use image::RgbaImage;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlAnchorElement, HtmlCanvasElement};

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten().map(JsCast::unchecked_into)
}

/// Resizes `canvas` to the image and paints it.
pub fn paint(canvas: &HtmlCanvasElement, image: &RgbaImage) {
    canvas.set_width(image.width());
    canvas.set_height(image.height());
    let data =
        web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(image.as_raw()), image.width(), image.height());
    if let (Some(context), Ok(data)) = (context(canvas), data) {
        let _ = context.put_image_data(&data, 0.0, 0.0);
    }
}

/// Saves the canvas as a PNG file through a temporary link.
pub fn download(canvas: &HtmlCanvasElement, file_name: &str) {
    let Ok(url) = canvas.to_data_url_with_type("image/png") else { return };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(link) = document.and_then(|d| d.create_element("a").ok()) {
        let link: HtmlAnchorElement = link.unchecked_into();
        link.set_href(&url);
        link.set_download(file_name);
        link.click();
    }
}

/// A one-image report card: photo and overlay side by side, the top-5 and the settings below.
pub fn report_card(photo: &RgbaImage, overlay: &RgbaImage, lines: &[String]) -> Option<HtmlCanvasElement> {
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").ok()?.unchecked_into();
    let (w, h) = (photo.width() + overlay.width() + 30, photo.height() + 30 + 20 * lines.len() as u32);
    canvas.set_width(w);
    canvas.set_height(h);
    let context = context(&canvas)?;
    context.set_fill_style_str("#ffffff");
    context.fill_rect(0.0, 0.0, f64::from(w), f64::from(h));
    for (image, x) in [(photo, 10), (overlay, photo.width() + 20)] {
        let data = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(image.as_raw()),
            image.width(),
            image.height(),
        )
        .ok()?;
        context.put_image_data(&data, f64::from(x), 10.0).ok()?;
    }
    context.set_fill_style_str("#111111");
    context.set_font("14px sans-serif");
    for (i, line) in lines.iter().enumerate() {
        context.fill_text(line, 10.0, f64::from(photo.height() + 35 + 20 * i as u32)).ok()?;
    }
    Some(canvas)
}
