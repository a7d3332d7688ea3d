//! Photos the page can explain: bundled demos, or the visitor's own (decoded and cropped here,
//! never uploaded anywhere).

use std::rc::Rc;

use image::RgbImage;
use xai_model::{preprocess, InputSize};
use xai_share::{decode_jpeg, encode_jpeg, Photo};

use crate::fetch::fetch_bytes;

/// The bundled demo photos (scikit-image's CC0 / public-domain samples), served from `demo/`.
pub const DEMOS: [&str; 4] = ["chelsea", "coffee", "rocket", "astronaut"];

/// A photo ready for the network: its 224x224 crop, and how a share link refers to it.
#[derive(Debug)]
pub struct Entry {
    /// Unique within the page, so a result can be matched to the photo it was made for.
    pub id: u64,
    pub name: String,
    pub crop: RgbImage,
    pub source: Photo,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

pub async fn demo(id: u64, name: &str) -> Result<Rc<Entry>, String> {
    if !DEMOS.contains(&name) {
        return Err(format!("there is no demo photo called '{name}'"));
    }
    let bytes = fetch_bytes(&format!("demo/{name}.png")).await?;
    let image = preprocess::decode_image(&bytes).map_err(|e| e.to_string())?;
    let crop = preprocess::center_crop(&image, InputSize::STANDARD);
    Ok(Rc::new(Entry { id, name: name.to_string(), crop, source: Photo::Demo(name.to_string()) }))
}

/// The visitor's photo: decoded, cropped, and passed through the JPEG its share link carries,
/// so the link reproduces exactly what the page shows.
pub fn upload(id: u64, name: &str, bytes: &[u8]) -> Result<Rc<Entry>, String> {
    let image = preprocess::decode_image(bytes).map_err(|e| format!("{name}: {e}"))?;
    let jpeg = encode_jpeg(&preprocess::center_crop(&image, InputSize::STANDARD));
    from_jpeg(id, name, jpeg)
}

pub fn from_jpeg(id: u64, name: &str, jpeg: Vec<u8>) -> Result<Rc<Entry>, String> {
    let crop = decode_jpeg(&jpeg).map_err(|e| e.to_string())?;
    let crop = preprocess::center_crop(&crop, InputSize::STANDARD);
    Ok(Rc::new(Entry { id, name: name.to_string(), crop, source: Photo::Jpeg(jpeg) }))
}
