//! Explanations of the ResNet's predictions: the CAM family and Deep Feature Factorization,
//! backend-generic (flex, wgpu, WebGPU), and the rendering of their maps to RGBA. Knows nothing
//! of browsers or terminals.

pub mod cam;
pub mod dff;
pub mod metrics;
mod methods;
pub mod projection;
pub mod readback;
pub mod render;
pub mod smooth;

pub use cam::{all_methods, explain, method, method_names, CamError, CamMethod, CamRequest, Explanation, Target};
pub use dff::{factorize_concepts, Concept, Concepts, DffError, DffOptions};
pub use render::{Colormap, Map};
