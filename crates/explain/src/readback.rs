//! Copies from the device to the host. Always asynchronous: WebGPU cannot block, and on the CPU
//! backends the futures are ready at once.

use burn::tensor::Tensor;

use crate::map::Map;

/// The device did not hand a result back: lost (a WebGPU device lost or reset), out of memory,
/// or a kernel that failed. Nothing computed on that device since can be trusted, so callers
/// may retry the whole job on another device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the device did not return its results ({0})")]
pub struct ReadbackError(pub String);

impl ReadbackError {
    /// One line: burn's messages carry a backtrace and line breaks that a page or a CLI
    /// error line cannot show.
    pub(crate) fn from_message(message: &str) -> Self {
        let before_backtrace = message.split("Backtrace:").next().unwrap_or(message);
        Self(before_backtrace.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

/// The values of any float tensor, row-major.
pub async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ReadbackError> {
    let data = tensor.into_data_async().await.map_err(|e| ReadbackError::from_message(&e.to_string()))?;
    data.try_into_vec::<f32>().map_err(|e| ReadbackError::from_message(&format!("{e:?}")))
}

/// Maps [N, H, W] as one [`Map`] per image.
pub async fn read_maps(maps: Tensor<3>) -> Result<Vec<Map>, ReadbackError> {
    let [_, h, w] = maps.dims();
    let values = read_floats(maps).await?;
    Ok(values.chunks(h * w).map(|v| Map::new(h, w, v.to_vec())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_device_reads_as_one_line_without_the_backtrace() {
        let message = "The device is poisoned\nCaused by:\n  Destroyed: device destroyed\nBacktrace:\n  0: frame";
        assert_eq!(
            ReadbackError::from_message(message).to_string(),
            "the device did not return its results (The device is poisoned Caused by: Destroyed: device destroyed)"
        );
    }
}
