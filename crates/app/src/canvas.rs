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

/// Saves the canvas as a PNG file.
pub fn download(canvas: &HtmlCanvasElement, file_name: &str) {
    if let Ok(url) = canvas.to_data_url_with_type("image/png") {
        save_url(&url, file_name);
    }
}

/// Saves `text` as a file, through an object URL: an audit's report with its pictures inline
/// runs to megabytes, more than browsers take in a data URL.
pub fn download_text(text: &str, mime: &str, file_name: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&format!("{mime};charset=utf-8"));
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    save_url(&url, file_name);
    // Released once the download has surely started (revoked at once, some browsers cancel it).
    let release = wasm_bindgen::closure::Closure::once_into_js(move || web_sys::Url::revoke_object_url(&url));
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(release.unchecked_ref(), 60_000);
    }
}

/// Saves what a URL holds as `file_name`, through a temporary link.
fn save_url(url: &str, file_name: &str) {
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(link) = document.and_then(|d| d.create_element("a").ok()) {
        let link: HtmlAnchorElement = link.unchecked_into();
        link.set_href(url);
        link.set_download(file_name);
        link.click();
    }
}

/// Images per row of a report card.
const CARD_COLUMNS: u32 = 4;
const LINE: u32 = 18;

/// A report card: the images in rows of four, each with its caption lines below, then `lines`.
/// Every image is `side` x `side`.
pub fn report_card(side: u32, images: &[(Vec<String>, RgbaImage)], lines: &[String]) -> Option<HtmlCanvasElement> {
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").ok()?.unchecked_into();
    let captions = images.iter().map(|(caption, _)| caption.len() as u32).max().unwrap_or(0);
    let (columns, rows) = (CARD_COLUMNS.min(images.len() as u32).max(1), (images.len() as u32).div_ceil(CARD_COLUMNS));
    let cell = (side + 10, side + 10 + LINE * captions);
    let (w, h) = (10 + columns * cell.0, 10 + rows * cell.1 + 10 + LINE * lines.len() as u32);
    canvas.set_width(w);
    canvas.set_height(h);
    let context = context(&canvas)?;
    context.set_fill_style_str("#ffffff");
    context.fill_rect(0.0, 0.0, f64::from(w), f64::from(h));
    context.set_font("13px sans-serif");
    context.set_fill_style_str("#111111");
    for (i, (caption, image)) in images.iter().enumerate() {
        let (x, y) = (10 + i as u32 % CARD_COLUMNS * cell.0, 10 + i as u32 / CARD_COLUMNS * cell.1);
        let data = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(image.as_raw()),
            image.width(),
            image.height(),
        )
        .ok()?;
        context.put_image_data(&data, f64::from(x), f64::from(y)).ok()?;
        for (j, line) in caption.iter().enumerate() {
            context.fill_text(line, f64::from(x), f64::from(y + side + LINE * (j as u32 + 1) - 4)).ok()?;
        }
    }
    for (i, line) in lines.iter().enumerate() {
        context.fill_text(line, 10.0, f64::from(10 + rows * cell.1 + LINE * (i as u32 + 1))).ok()?;
    }
    Some(canvas)
}
