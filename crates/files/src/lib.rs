//! The files users bring, read and checked without burn (so fuzzing them builds quickly): our
//! weight file, the PyTorch and Keras files it is converted from (Keras' in their npm tarball),
//! class names, and photos. The ResNet family is described here as data; `xai-model` runs it.

pub mod architecture;
pub mod convert;
pub mod keras;
pub mod labels;
pub mod npm;
pub mod photo;
pub mod pickle;
pub mod preprocessing;
pub mod pytorch;
pub mod torchvision;
pub mod weights;

pub use architecture::{Architecture, Layer};
pub use labels::{Labels, Prediction};
pub use photo::{ImageError, InputSize};
pub use preprocessing::Preprocessing;
pub use weights::{ModelInfo, NetworkParams, Precision, WeightsError, WeightsInfo};

/// A name from a file (a file's own, a class name) as a terminal or a page can show it: control
/// characters, which could forge lines or recolour a terminal, are escaped, and so are the
/// invisible ones that reorder or hide text (bidirectional overrides: 'bad\u{202e}gnp.txt' reads
/// "badtxt.png").
pub fn printable(text: &str) -> String {
    let hidden = |c: char| matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    text.chars()
        .map(|c| if c.is_control() || hidden(c) { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// A count and its noun, singular for one: "1 photo", "7 photos".
pub fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
