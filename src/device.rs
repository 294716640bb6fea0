//! The compute device, chosen by the user at run time (never guessed).

use anyhow::bail;
/// The device type, for crates that do not depend on burn themselves (the Python bindings).
pub use burn::tensor::Device;

/// Resolve a device name: `cpu` (burn's flex backend), or `gpu` (burn's wgpu/Vulkan backend,
/// built with the `vulkan` feature; or CUDA with the `cuda` feature).
pub fn parse(name: &str) -> crate::Result<Device> {
    match name {
        "cpu" => Ok(Device::flex()),
        "gpu" => probe(gpu()?),
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

/// Run one tiny operation on `device`. GPU runtimes panic when no adapter or driver is found;
/// turn that into an error instead of a crash half-way through a job.
fn probe(device: Device) -> crate::Result<Device> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        burn::tensor::Tensor::<1>::from_floats([1.0f32], &device).into_data()
    }))
    .is_ok();
    std::panic::set_hook(hook);
    if !ok {
        bail!(
            "no usable GPU: the GPU backend found no adapter (is a Vulkan driver and loader, or CUDA, installed?); use --device cpu"
        );
    }
    Ok(device)
}

/// `MemAvailable` of /proc/meminfo, bytes.
pub fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
