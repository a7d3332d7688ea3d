//! Copies from the device to the host. Always asynchronous: WebGPU cannot block, and on the CPU
//! backends the futures are ready at once.

use burn::tensor::Tensor;

use crate::render::Map;

/// The values of any float tensor, row-major.
pub async fn read_floats<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, String> {
    let data = tensor.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    data.try_into_vec::<f32>().map_err(|e| format!("{e:?}"))
}

/// Maps [N, H, W] as one [`Map`] per image.
pub async fn read_maps(maps: Tensor<3>) -> Result<Vec<Map>, String> {
    let [_, h, w] = maps.dims();
    let values = read_floats(maps).await?;
    Ok(values.chunks(h * w).map(|v| Map::new(h, w, v.to_vec())).collect())
}
