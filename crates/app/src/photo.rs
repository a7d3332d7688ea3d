//! Photos the page can explain: bundled demos, or the visitor's own (decoded and cropped here,
//! never uploaded anywhere).

use image::RgbImage;
use xai_model::photo::{center_crop, decode_image, MAX_FILE_BYTES};
use xai_model::InputSize;
use xai_share::{decode_jpeg, encode_jpeg, Photo};

use crate::fetch::{self, fetch_bytes};
use crate::state::NewPhoto;

/// The bundled demo photos (scikit-image's CC0 / public-domain samples), served from `demo/`.
pub const DEMOS: [&str; 4] = ["chelsea", "coffee", "rocket", "astronaut"];

pub async fn demo(name: &str) -> Result<NewPhoto, String> {
    if !DEMOS.contains(&name) {
        return Err(format!("there is no demo photo called '{name}'"));
    }
    let bytes = fetch_bytes(&format!("demo/{name}.png")).await?;
    let image = decode_image(&bytes).map_err(|e| e.to_string())?;
    let crop = center_crop(&image, InputSize::STANDARD);
    Ok(NewPhoto { name: name.to_string(), crop, source: Photo::Demo(name.to_string()) })
}

/// A photo file's bytes; a file too large is refused before it is read into memory.
pub async fn file_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    if file.size() > MAX_FILE_BYTES as f64 {
        return Err(format!("the file is over {} MB", MAX_FILE_BYTES / 1_000_000));
    }
    fetch::file_bytes(file).await
}

/// A photo file's crop for the network at `side`, as an audit reads it (no JPEG: it is not
/// shared).
pub async fn crop_of_file(file: &web_sys::File, side: InputSize) -> Result<RgbImage, String> {
    let image = decode_image(&file_bytes(file).await?).map_err(|e| e.to_string())?;
    Ok(center_crop(&image, side))
}

/// The visitor's photo: decoded, cropped, and passed through the JPEG its share link carries,
/// so the link reproduces exactly what the page shows.
pub fn upload(name: &str, bytes: &[u8]) -> Result<NewPhoto, String> {
    let image = decode_image(bytes).map_err(|e| format!("{name}: {e}"))?;
    let jpeg = encode_jpeg(&center_crop(&image, InputSize::STANDARD));
    from_jpeg(name, jpeg)
}

pub fn from_jpeg(name: &str, jpeg: Vec<u8>) -> Result<NewPhoto, String> {
    let crop = decode_jpeg(&jpeg).map_err(|e| e.to_string())?;
    let crop = center_crop(&crop, InputSize::STANDARD);
    Ok(NewPhoto { name: name.to_string(), crop, source: Photo::Jpeg(jpeg) })
}

/// A share link's photo.
pub async fn from_link(photo: &Photo) -> Result<NewPhoto, String> {
    match photo {
        Photo::Demo(name) => demo(name).await,
        Photo::Jpeg(bytes) => from_jpeg("shared photo", bytes.clone()),
    }
}
