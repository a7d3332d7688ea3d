//! From image bytes to the crop the network sees: decode (any common format, EXIF orientation
//! applied), RGB, shorter side to 8/7 of the input size (256 for 224, bilinear), centre crop.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// The file names of the formats decoded, as a folder of photos is sifted by them.
pub const EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "gif", "bmp"];

/// Larger photos are refused before decoding: 40 MP of RGBA is already 160 MB in a browser tab.
pub const MAX_PIXELS: u64 = 40_000_000;
/// The largest photo file read, in the page and the CLI alike.
pub const MAX_FILE_BYTES: u64 = 200_000_000;
/// The longest side, and how many times longer than the other it may be: a thin strip passes
/// the pixel limit, but the resize of its shorter side to the network's would take gigabytes.
pub const MAX_SIDE: u32 = 16_384;
pub const MAX_ASPECT: u32 = 16;
/// What a decoder may allocate in all, metadata (an ICC profile, EXIF) included: a 40 MP photo
/// with 16-bit RGBA channels is 320 MB.
const MAX_ALLOC: u64 = 400 << 20;

/// What the metadata alone may take (an ICC profile, EXIF): a JPEG's ICC profile is at most
/// 16 MB, a PNG's compressed one could claim gigabytes.
const METADATA_ALLOC: u64 = 32 << 20;

/// The decoder's limits: at most `alloc` bytes.
fn limits(alloc: u64) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(alloc.min(MAX_ALLOC));
    limits
}

/// The size in a lossless WebP's header: "RIFF", its length, "WEBP", a "VP8L" chunk's name and
/// length, its signature 0x2f, then 14 bits of width - 1 and 14 of height - 1. The decoder
/// (image-webp 0.2.4) reads a side of 16384 there as 0.
fn webp_lossless_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let chunk = bytes.get(12..25)?;
    let bits = u32::from_le_bytes(chunk[9..13].try_into().ok()?);
    (&chunk[..4] == b"VP8L" && chunk[8] == 0x2f).then_some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
}

/// A JPEG ends with its end-of-image marker; a decoder given one cut short fills the missing
/// part with grey and says nothing, so the marker is looked for (trailing padding allowed).
pub fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xff, 0xd9])
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("not a supported image (PNG, JPEG, WebP, GIF or BMP)")]
    UnknownFormat,
    #[error("the image is {width}x{height} ({megapixels:.0} megapixels); the limit is 40 megapixels")]
    TooLarge { width: u32, height: u32, megapixels: f64 },
    #[error(
        "the image is too large to decode: the limits are 40 megapixels, {MAX_SIDE} pixels a side and 400 MB with its metadata (an ICC profile or EXIF)"
    )]
    TooLargeToRead,
    #[error("the image is {width}x{height}; one side may be at most {MAX_ASPECT} times the other")]
    TooThin { width: u32, height: u32 },
    #[error("the image is truncated: its file ends before the picture does")]
    Truncated,
    #[error("the image is {width}x{height}; it needs at least 8x8 pixels")]
    TooSmall { width: u32, height: u32 },
    #[error(
        "the image is a {width}x{height} WebP: its decoder here reads a side of 16384 pixels as 0, so it cannot be read; save it as PNG or JPEG"
    )]
    WebpSide { width: u32, height: u32 },
    #[error("the image could not be decoded (truncated or corrupt?): {0}")]
    Corrupt(String),
    #[error("input size {0} is not supported (a multiple of 32 from 32 to 1024)")]
    InputSize(u32),
}

/// Side of the square network input. ResNet-50 is convolutional up to its global pool, so any
/// multiple of 32 works; larger inputs give finer maps (448 gives 14x14 at layer4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSize(u32);

impl InputSize {
    /// ImageNet's.
    pub const STANDARD: InputSize = InputSize(224);
    /// CIFAR's photos.
    pub const CIFAR: InputSize = InputSize(32);

    pub fn new(size: u32) -> Result<Self, ImageError> {
        if size.is_multiple_of(32) && (32..=1024).contains(&size) {
            Ok(Self(size))
        } else {
            Err(ImageError::InputSize(size))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for InputSize {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// Decodes an image, checking its size from the header before any pixel is decoded.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, ImageError> {
        let reader =
            ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| ImageError::UnknownFormat)?;
        reader.format().map(|_| reader).ok_or(ImageError::UnknownFormat)
    };
    // The header alone first, so a huge image gets a message of its own before any pixel or
    // metadata is read beyond the limits.
    let mut header = reader()?;
    let format = header.format();
    if format == Some(image::ImageFormat::Jpeg) && !jpeg_is_whole(bytes) {
        return Err(ImageError::Truncated);
    }
    header.limits(limits(METADATA_ALLOC));
    let read = header.into_dimensions().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLargeToRead,
        // A format `image` knows but is not built to read here (TIFF, AVIF...): not corrupt.
        image::ImageError::Unsupported(_) => ImageError::UnknownFormat,
        e => ImageError::Corrupt(e.to_string()),
    })?;
    let webp_side_unread = format == Some(image::ImageFormat::WebP) && (read.0 == 0 || read.1 == 0);
    let (width, height) = webp_lossless_size(bytes).filter(|_| webp_side_unread).unwrap_or(read);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height, megapixels: pixels as f64 / 1e6 });
    }
    if width < 8 || height < 8 {
        return Err(ImageError::TooSmall { width, height });
    }
    if u64::from(width.max(height)) > u64::from(width.min(height)) * u64::from(MAX_ASPECT) {
        return Err(ImageError::TooThin { width, height });
    }
    if webp_side_unread {
        return Err(ImageError::WebpSide { width, height });
    }
    let mut reader = reader()?;
    reader.limits(limits(pixels * 8 + METADATA_ALLOC));
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageError::TooLargeToRead,
        e => ImageError::Corrupt(e.to_string()),
    })?;
    let orientation = decoder.orientation().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}

/// Resizes the shorter side to 8/7 of `size` (bilinear) and crops the centre square; an image
/// that is already `size` x `size` is used unchanged.
pub fn center_crop(image: &RgbImage, size: InputSize) -> RgbImage {
    let size = size.get();
    if image.dimensions() == (size, size) {
        return image.clone();
    }
    let (w, h) = image.dimensions();
    let short = (size as f64 * 8.0 / 7.0).round();
    let scale = short / f64::from(w.min(h));
    let (rw, rh) = ((f64::from(w) * scale).round() as u32, (f64::from(h) * scale).round() as u32);
    let resized = image::imageops::resize(image, rw.max(size), rh.max(size), FilterType::Triangle);
    let (left, top) = ((resized.width() - size) / 2, (resized.height() - size) / 2);
    image::imageops::crop_imm(&resized, left, top, size, size).to_image()
}

/// The square of the photo, in its own pixels, that [`center_crop`] shows the network: its
/// left, top and side. Evidence drawn there keeps the photo's resolution.
pub fn crop_region(width: u32, height: u32, size: InputSize) -> (u32, u32, u32) {
    let size = size.get();
    if (width, height) == (size, size) {
        return (0, 0, size);
    }
    let short = (size as f64 * 8.0 / 7.0).round();
    let side = (f64::from(width.min(height)) * size as f64 / short).round() as u32;
    ((width - side) / 2, (height - side) / 2, side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_region_is_the_centre_square_the_network_sees() {
        assert_eq!(crop_region(224, 224, InputSize::STANDARD), (0, 0, 224));
        // 600 x 450: the short side becomes 256, and the centre 224 of those is 394 pixels here.
        assert_eq!(crop_region(600, 450, InputSize::STANDARD), (103, 28, 394));
    }

    #[test]
    fn crop_keeps_the_centre_and_exact_sizes_pass_through() {
        let wide = RgbImage::from_fn(600, 300, |x, _| image::Rgb([if x < 300 { 0 } else { 255 }, 0, 0]));
        let crop = center_crop(&wide, InputSize::STANDARD);
        assert_eq!(crop.dimensions(), (224, 224));
        assert!(crop.get_pixel(10, 100)[0] < 10 && crop.get_pixel(213, 100)[0] > 245);
        let exact = RgbImage::new(224, 224);
        assert_eq!(center_crop(&exact, InputSize::STANDARD), exact);
    }

    #[test]
    fn a_format_not_read_here_is_named_unsupported_not_corrupt() {
        // A TIFF header: `image` knows the format, and is built without its decoder.
        let tiff = b"II*\0\x08\0\0\0\0\0\0\0";
        assert!(matches!(decode_image(tiff), Err(ImageError::UnknownFormat)));
    }

    #[test]
    /// When image-webp reads such a side right, this fails: `webp_lossless_size` can go.
    fn a_lossless_webp_with_a_side_of_16384_is_named_by_its_size() {
        let stripes = RgbImage::from_fn(16_384, 1024, |x, y| image::Rgb([(x % 251) as u8, (y % 7) as u8, 3]));
        let mut webp = Vec::new();
        stripes.write_to(&mut Cursor::new(&mut webp), image::ImageFormat::WebP).unwrap();
        let message = decode_image(&webp).unwrap_err().to_string();
        assert!(message.contains("16384x1024 WebP"), "{message}");
        // Its header rewritten to 16384 x 16384: too large, and said so.
        let square = (16_383u32 | (16_383 << 14)).to_le_bytes();
        webp[21..25].copy_from_slice(&square);
        assert!(matches!(decode_image(&webp), Err(ImageError::TooLarge { width: 16_384, height: 16_384, .. })));
    }

    #[test]
    fn input_sizes_are_multiples_of_32() {
        assert!(InputSize::new(448).is_ok());
        assert!(InputSize::new(32).is_ok() && InputSize::new(100).is_err());
        assert!(InputSize::new(2048).is_err());
    }
}
