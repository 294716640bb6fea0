//! The compute device, chosen by the user at run time (never guessed).

use anyhow::bail;
use burn::tensor::Device;

/// Resolve a device name: `cpu` (burn's flex backend), or `gpu` (burn's wgpu/Vulkan backend,
/// built with the `vulkan` feature; or CUDA with the `cuda` feature).
pub fn parse(name: &str) -> crate::Result<Device> {
    match name {
        "cpu" => Ok(Device::flex()),
        "gpu" => gpu(),
        other => bail!("unknown device {other:?}; use cpu or gpu"),
    }
}

#[cfg(feature = "cuda")]
fn gpu() -> crate::Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(all(feature = "vulkan", not(feature = "cuda")))]
fn gpu() -> crate::Result<Device> {
    Ok(Device::vulkan(Default::default()))
}

#[cfg(not(any(feature = "vulkan", feature = "cuda")))]
fn gpu() -> crate::Result<Device> {
    bail!(
        "this oddity was built without a GPU backend; rebuild with `--features vulkan` (or `cuda`)"
    )
}
