//! Which device the network runs on.

use anyhow::Result;
use burn::tensor::Device;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Backend {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// The GPU through wgpu (Vulkan, Metal or DX12).
    Wgpu,
}

impl Backend {
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu_options()
                .init()
                .map_err(|e| anyhow::anyhow!("no usable GPU for --backend wgpu ({e}); use --backend flex")),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => anyhow::bail!("this xai was built without the `wgpu` feature; use --backend flex"),
        }
    }
}
