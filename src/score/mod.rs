//! Batched scoring: a detector's per-sample values over a whole sample set, in batches sized
//! to the memory available. Training uses it for validation losses, runs for scores.

pub mod tiled;

use crate::data::Samples;
use crate::models::AnyDetector;
use anyhow::bail;
use burn::prelude::*;
use burn::tensor::TensorData;

/// Copy the rows `rows` of `samples` into a `[B, D]` tensor on `device`.
pub fn batch_tensor(samples: &Samples, rows: &[usize], device: &Device) -> Tensor<2> {
    let d = samples.shape.len();
    let mut buf = Vec::with_capacity(rows.len() * d);
    for &i in rows {
        buf.extend_from_slice(samples.sample(i));
    }
    Tensor::from_data(TensorData::new(buf, [rows.len(), d]), device)
}

/// Apply a per-sample function of the model to every sample, `batch_size` at a time, on the
/// model's scoring device.
pub fn per_sample(
    model: &dyn AnyDetector,
    samples: &Samples,
    batch_size: usize,
    f: impl Fn(&dyn AnyDetector, Tensor<2>) -> Tensor<1>,
) -> crate::Result<Vec<f32>> {
    let device = model.device().clone();
    let mut out = Vec::with_capacity(samples.len());
    let rows: Vec<usize> = (0..samples.len()).collect();
    for chunk in rows.chunks(batch_size.max(1)) {
        let values = f(model, batch_tensor(samples, chunk, &device))
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"))?;
        out.extend(values);
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        bail!(
            "the model produced a non-finite score for sample {} of {} (counting from 1): a \
             value of it far outside the training data's range, or weights that overflowed in a \
             diverged training (where a smaller learning_rate helps)",
            i + 1,
            out.len()
        );
    }
    Ok(out)
}

/// Anomaly scores of every sample (higher = more anomalous), in batches of
/// [`score_batch_size`].
pub fn scores(model: &dyn AnyDetector, samples: &Samples) -> crate::Result<Vec<f32>> {
    if model.scores_whole_scenes() {
        let Some(layout) = samples.layout else {
            anyhow::bail!(
                "{} scores whole hyperspectral scenes, each pixel against its neighbours; these \
                 samples are not one scene (read a scene from its file, a MAT-file or an ENVI \
                 raster: `oddity score RUN --dataset hyperspectral --data SCENE --output SCORES.csv`)",
                model.name()
            );
        };
        let all: Vec<usize> = (0..samples.len()).collect();
        let pixels = batch_tensor(samples, &all, model.device());
        return model
            .score_scene(pixels, layout)?
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading scores: {e:?}"));
    }
    let batch = score_batch_size(samples.shape.len());
    per_sample(model, samples, batch, |m, x| m.score(x))
}

/// Working memory a scoring pass may need per input value, in floats: the activations of
/// every layer (the DCGAN-32 networks hold ≈ 100 floats per input pixel across three
/// networks, BatchNorm and activation temporaries included) with a margin.
const SCORING_FLOATS_PER_INPUT_VALUE: usize = 256;

/// Largest and smallest scoring batches: past 1024 throughput no longer grows, under 16 it falls.
const SCORE_BATCH_RANGE: (usize, usize) = (16, 1024);

/// The scoring batch size for samples of `sample_len` values: as many samples as fit in a
/// quarter of the memory available now (`MemAvailable`; 4 GiB assumed where it cannot be
/// read), rounded down to a power of two, between 16 and 1024.
pub fn score_batch_size(sample_len: usize) -> usize {
    let available = crate::device::available_memory_bytes().unwrap_or(4 << 30);
    batch_for_memory(available / 4, sample_len)
}

fn batch_for_memory(budget_bytes: u64, sample_len: usize) -> usize {
    let per_sample = (sample_len.max(1) * SCORING_FLOATS_PER_INPUT_VALUE * 4) as u64;
    let fit = (budget_bytes / per_sample) as usize;
    let (lo, hi) = SCORE_BATCH_RANGE;
    let clamped = fit.clamp(lo, hi);
    1 << clamped.ilog2()
}

/// Each sample's anomaly map at the samples' size (the model's input, or the whole image of a
/// tiled model) (`height × width`, row-major), handed to
/// `each(i, map, height, width)` batch by batch, so that the maps of a large set are never all
/// in memory. `false` (and no call) when the model defines no map.
pub fn for_each_map(
    model: &dyn AnyDetector,
    samples: &Samples,
    mut each: impl FnMut(usize, &[f32], usize, usize) -> crate::Result<()>,
) -> crate::Result<bool> {
    let device = model.device().clone();
    let batch = score_batch_size(samples.shape.len());
    let rows: Vec<usize> = (0..samples.len()).collect();
    for chunk in rows.chunks(batch.max(1)) {
        let Some(maps) = model.anomaly_map(batch_tensor(samples, chunk, &device)) else {
            return Ok(false);
        };
        let [b, c, h, w] = maps.dims();
        anyhow::ensure!(
            b == chunk.len() && c == 1,
            "the model's anomaly maps are {b}×{c}×{h}×{w} for a batch of {}",
            chunk.len()
        );
        let values = maps
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading anomaly maps: {e:?}"))?;
        for (k, &i) in chunk.iter().enumerate() {
            let map = &values[k * h * w..(k + 1) * h * w];
            if let Some(p) = map.iter().position(|v| !v.is_finite()) {
                bail!(
                    "the model produced a non-finite anomaly map value for sample {i} at pixel {p}"
                );
            }
            each(i, map, h, w)?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_batch_follows_memory() {
        // 3×32×32 images need 3 MiB each at 256 floats per value: 1 GiB holds 341 → 256.
        assert_eq!(batch_for_memory(1 << 30, 3 * 32 * 32), 256);
        // Four times the memory, four times the batch.
        assert_eq!(batch_for_memory(4 << 30, 3 * 32 * 32), 1024);
        // Large images on little memory still get the smallest batch, tables the largest.
        assert_eq!(batch_for_memory(64 << 20, 3 * 512 * 512), 16);
        assert_eq!(batch_for_memory(1 << 30, 121), 1024);
    }
}
