//! Photos the page can explain: bundled demos, or the visitor's own (decoded and cropped here,
//! never uploaded anywhere).

use xai_model::photo::{center_crop, decode_image};
use xai_model::InputSize;
use xai_share::{decode_jpeg, encode_jpeg, Photo};

use crate::fetch::fetch_bytes;
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
