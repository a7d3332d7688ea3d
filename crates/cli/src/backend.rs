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
            Backend::Wgpu => gpu(),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => anyhow::bail!("this xai was built without the `wgpu` feature; use --backend flex"),
        }
    }
}

/// Searches for adapters before asking burn for one: the search takes a moment and names what
/// it found, where burn's own choice, without a GPU, can take minutes and ends in a bare error.
#[cfg(feature = "wgpu")]
fn gpu() -> Result<Device> {
    use burn::tensor::wgpu::wgpu::{Backends, DeviceType, Instance};
    let adapters = pollster::block_on(Instance::default().enumerate_adapters(Backends::all()));
    let found = adapters
        .iter()
        .map(|adapter| {
            let info = adapter.get_info();
            format!("{} ({}, {:?})", info.name, info.backend, info.device_type)
        })
        .collect::<Vec<_>>()
        .join(", ");
    if adapters.is_empty() {
        anyhow::bail!("no GPU for --backend wgpu: the search for Vulkan, Metal, DX12 and GL adapters found none; use --backend flex");
    }
    if adapters.iter().all(|adapter| adapter.get_info().device_type == DeviceType::Cpu) {
        eprintln!("xai: no GPU, only a software adapter: {found}; --backend flex is faster");
    }
    Device::wgpu_options().init().map_err(|e| {
        anyhow::anyhow!("no usable GPU for --backend wgpu ({e}; adapters found: {found}); use --backend flex")
    })
}
