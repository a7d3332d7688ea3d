//! The audit's work on the network, the same in the CLI and the page (behind the `compute`
//! feature, so the report alone builds without burn): a batch of photos classified and mapped
//! in one pass, a photo's overlay, and the concepts the photos of a class share.

use image::{RgbImage, RgbaImage};
use xai_explain::budget::CPU_IMAGES_PER_PASS;
use xai_explain::dff::{factorize_concepts, DffError, DffOptions};
use xai_explain::render::{concept_region, overlay as paint_overlay, Colormap};
use xai_explain::{method, CamError, CamRequest, Map, Target};
use xai_model::{Labels, ResNet};

use crate::{ClassConcepts, MapSummary, Photo, SharedConcept, CLASS_CONCEPTS};

/// Photos of `side` x `side` one pass classifies: at most 16 on a GPU; at most
/// [`CPU_IMAGES_PER_PASS`] on the CPU; fewer where the memory budget says so.
pub fn photos_per_pass(side: usize, on_gpu: bool) -> usize {
    xai_explain::budget::images_per_pass(side, side, if on_gpu { 16 } else { CPU_IMAGES_PER_PASS })
}

/// Classifies the photos that were read, with their Grad-CAM maps at the last layer (layer4, a
/// CIFAR ResNet's layer3) from the same pass
/// (there its gradients have a closed form: no backward pass), and gives every photo back in
/// order: each `Err` becomes the photo's error.
pub async fn classify(
    net: &ResNet,
    labels: &Labels,
    read: Vec<(Photo, Result<RgbImage, String>)>,
) -> Result<Vec<Photo>, CamError> {
    let (mut photos, mut crops) = (Vec::with_capacity(read.len()), Vec::new());
    for (mut photo, crop) in read {
        match crop {
            Ok(crop) => crops.push(crop),
            Err(error) => photo.error = Some(error),
        }
        photos.push(photo);
    }
    if crops.is_empty() {
        return Ok(photos);
    }
    let request = CamRequest {
        layer: net.last_layer(),
        target: &Target::TOP_CLASS,
        method: method("gradcam")?,
        eigen_smooth: false,
    };
    let analyses = xai_explain::analyse(net, &net.input(&crops), request).await?;
    for (photo, analysis) in photos.iter_mut().filter(|p| p.error.is_none()).zip(analyses) {
        photo.top5 = analysis.top(labels, 5);
        photo.map = Some(MapSummary::new(analysis.map.height, analysis.map.width, analysis.map.values));
    }
    Ok(photos)
}

/// The photo's map over its crop, as the report shows it.
pub fn overlay(crop: &RgbImage, map: &MapSummary) -> RgbaImage {
    paint_overlay(crop, &Map::new(map.height, map.width, map.values.clone()), Colormap::Jet, 0.5)
}

/// The concepts `photos` (paths and crops of one predicted class) share: one factorisation over
/// all of them, each concept classified by the head, with an example region from the photo
/// where it is strongest.
pub async fn class_concepts(
    net: &ResNet,
    labels: &Labels,
    class: usize,
    photos: &[(String, RgbImage)],
) -> Result<Option<(ClassConcepts, Vec<RgbaImage>)>, DffError> {
    // Its photos are read again for this, and may have gone since they were classified.
    if photos.is_empty() {
        return Ok(None);
    }
    let crops: Vec<RgbImage> = photos.iter().map(|(_, crop)| crop.clone()).collect();
    let options = DffOptions { k: CLASS_CONCEPTS, ..DffOptions::default() };
    let found = factorize_concepts(net, &net.input(&crops), labels, options).await?;
    let (mut concepts, mut regions) = (Vec::new(), Vec::new());
    for (k, concept) in found.concepts.iter().enumerate() {
        let (photo, row, col) = found.strongest(k);
        regions.push(concept_region(&crops[photo], &found.maps[photo], k, (row, col)));
        let example = photos[photo].0.clone();
        concepts.push(SharedConcept { labels: concept.labels.clone(), share: concept.share, example });
    }
    let paths = photos.iter().map(|(path, _)| path.clone()).collect();
    Ok(Some((ClassConcepts { class, photos: paths, concepts }, regions)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_takes_smaller_batches_than_a_gpu_and_large_photos_fewer() {
        assert_eq!(photos_per_pass(224, false), 4);
        assert_eq!(photos_per_pass(224, true), 16);
        assert_eq!(photos_per_pass(4096, true), 1);
    }
}
