//! A detector that sees a large image through its model's small input: the image is cut into
//! overlapping tiles ([`Tiling`]), the model scores and maps each tile, the image's score is its
//! highest tile score and its map the tiles' maps averaged where they overlap.

use crate::data::SampleShape;
use crate::data::tiles::{Stitcher, Tiling};
use crate::models::{AnyDetector, Detector, ModelConfig, StepLosses, as_images, image_dims};
use crate::nn::{Trainables, TrainablesMut, TrainingState};
use anyhow::bail;
use burn::prelude::*;
use burn::tensor::TensorData;

/// A model built for `tiling.tile`-sided images, scoring `image`-shaped ones tile by tile.
pub struct TiledDetector {
    inner: Box<dyn AnyDetector>,
    tiling: Tiling,
    image: [usize; 3],
    corners: Vec<(usize, usize)>,
}

impl TiledDetector {
    /// Wrap `inner`, built for tiles of `tiling`, to take images of `image` shape.
    pub fn new(
        inner: Box<dyn AnyDetector>,
        tiling: Tiling,
        image: SampleShape,
    ) -> crate::Result<Self> {
        let (c, h, w) = image_dims(inner.name(), image)?;
        let corners = tiling.corners(h, w)?;
        Ok(TiledDetector {
            inner,
            tiling,
            image: [c, h, w],
            corners,
        })
    }

    /// The tiles at every corner of a batch of images, one `[B, C·t·t]` batch per corner.
    fn tiles(&self, batch: Tensor<2>) -> impl Iterator<Item = ((usize, usize), Tensor<2>)> + '_ {
        let images = as_images(batch, self.image);
        let [b, c, _, _] = images.dims();
        let t = self.tiling.tile;
        self.corners.iter().map(move |&(r, col)| {
            let tile = images
                .clone()
                .slice([0..b, 0..c, r..r + t, col..col + t])
                .reshape([b, c * t * t]);
            ((r, col), tile)
        })
    }
}

/// Build `model` for the tiles of `tiling` and wrap it for `image`-shaped samples; without
/// tiling, the model built for `image` itself.
pub fn build(
    model: &ModelConfig,
    image: SampleShape,
    tiling: Option<Tiling>,
    device: &Device,
    seed: u64,
) -> crate::Result<Box<dyn AnyDetector>> {
    let shape = match tiling {
        Some(t) => t.tile_shape(image)?,
        None => image,
    };
    wrap(model.build(shape, device, seed)?, tiling, image)
}

/// `inner`, built for the tiles of `tiling`, taking `image`-shaped samples; `inner` itself
/// without tiling.
pub fn wrap(
    inner: Box<dyn AnyDetector>,
    tiling: Option<Tiling>,
    image: SampleShape,
) -> crate::Result<Box<dyn AnyDetector>> {
    Ok(match tiling {
        Some(tiling) => Box::new(TiledDetector::new(inner, tiling, image)?),
        None => inner,
    })
}

impl Detector for TiledDetector {
    fn begin_epoch(&mut self, epoch: usize) {
        self.inner.begin_epoch(epoch)
    }

    /// One step of the model on every tile of the batch's images.
    fn train_step(&mut self, batch: Tensor<2>) -> crate::Result<StepLosses> {
        let tiles: Vec<Tensor<2>> = self.tiles(batch).map(|(_, t)| t).collect();
        self.inner.train_step(Tensor::cat(tiles, 0))
    }

    /// The highest tile score of each image: an image is as anomalous as its worst part. (For a
    /// model whose score is its map's maximum this is the stitched map's maximum before the
    /// averaging of overlaps; for one scoring its map's mean, the highest tile mean.)
    fn score(&self, batch: Tensor<2>) -> Tensor<1> {
        self.tiles(batch)
            .map(|(_, tile)| self.inner.score(tile))
            .reduce(|a, b| a.max_pair(b))
            .expect("an image has at least one tile")
    }

    fn validates(&self) -> bool {
        self.inner.validates()
    }

    fn scores_depend_on_the_batch(&self) -> bool {
        self.inner.scores_depend_on_the_batch()
    }

    /// The mean of the tiles' validation losses.
    fn validation_loss(&self, batch: Tensor<2>) -> Tensor<1> {
        let n = self.corners.len() as f64;
        self.tiles(batch)
            .map(|(_, tile)| self.inner.validation_loss(tile))
            .reduce(|a, b| a + b)
            .expect("an image has at least one tile")
            / n
    }

    /// The tiles' maps stitched into one map per image, averaged where tiles overlap.
    fn anomaly_map(&self, batch: Tensor<2>) -> Option<Tensor<4>> {
        let device = batch.device();
        let b = batch.dims()[0];
        let [_, h, w] = self.image;
        let t = self.tiling.tile;
        let mut stitchers = vec![Stitcher::new(h, w); b];
        for (corner, tile) in self.tiles(batch) {
            let maps = self.inner.anomaly_map(tile)?;
            // Every model maps a tile at the tile's own side (tested for each built-in one).
            assert_eq!(
                maps.dims(),
                [b, 1, t, t],
                "{}'s anomaly maps must be one channel at its input's side",
                self.inner.name()
            );
            let values = maps
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("a map converted to f32 reads back as f32");
            for (k, stitcher) in stitchers.iter_mut().enumerate() {
                stitcher.add(&values[k * t * t..(k + 1) * t * t], corner, t);
            }
        }
        let mut out = Vec::with_capacity(b * h * w);
        for s in &stitchers {
            out.extend(s.finish().expect("the corners cover every pixel"));
        }
        Some(Tensor::from_data(
            TensorData::new(out, [b, 1, h, w]),
            &device,
        ))
    }

    fn trainables(&self) -> Trainables<'_> {
        self.inner.trainables()
    }

    fn trainables_mut(&mut self) -> TrainablesMut<'_> {
        self.inner.trainables_mut()
    }

    fn save_weights(&self) -> crate::Result<Vec<u8>> {
        self.inner.save_weights()
    }

    fn load_weights(&mut self, bytes: Vec<u8>) -> crate::Result<()> {
        self.inner.load_weights(bytes)
    }

    fn training_state(&self) -> crate::Result<Option<TrainingState>> {
        self.inner.training_state()
    }

    fn restore_training_state(&mut self, state: &TrainingState) -> crate::Result<()> {
        self.inner.restore_training_state(state)
    }
}

impl AnyDetector for TiledDetector {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn config(&self) -> &ModelConfig {
        self.inner.config()
    }

    fn device(&self) -> &Device {
        self.inner.device()
    }
}

/// Refuse a tiling whose tile differs from the side `model` is configured for.
pub fn check_tile_fits(model: &ModelConfig, raw: SampleShape, tiling: Tiling) -> crate::Result<()> {
    if let Some(side) = model.input_size(raw)
        && side != tiling.tile
    {
        bail!(
            "--tile {} does not match {}'s input side {side}: tile by {side}, or (for a model \
             whose image size is a setting) set its image size to {} in --model-config",
            tiling.tile,
            model.name(),
            tiling.tile
        );
    }
    Ok(())
}
