//! One file per CAM method; each defines only how it weights the target layer's activations.

mod ablationcam;
mod cam;
mod eigencam;
mod gradcam;
mod gradcam_plus_plus;
mod hirescam;
mod layercam;
mod scorecam;
mod xgradcam;

use crate::cam::CamMethod;

pub(crate) static ALL: &[&dyn CamMethod] = &[
    &gradcam::GradCam,
    &gradcam_plus_plus::GradCamPlusPlus,
    &hirescam::HiResCam,
    &xgradcam::XGradCam,
    &layercam::LayerCam,
    &eigencam::EigenCam,
    &scorecam::ScoreCam,
    &ablationcam::AblationCam,
    &cam::Cam,
];
