//! Tiles: square windows slid over an image, so that a model with a small input sees a large
//! image at its own resolution instead of shrunk. Training cuts each image into its tiles;
//! scoring stitches the tiles' maps back by averaging where they overlap.

use super::{SampleShape, Samples};
use anyhow::ensure;
use serde::{Deserialize, Serialize};

/// A sliding window: `tile × tile` pixels, moved by `stride` pixels; the last window of a row
/// or column is moved back to end at the image's edge, so every pixel is covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiling {
    /// Side of a tile, in pixels; the model's input side.
    pub tile: usize,
    /// Distance between neighbouring tiles, in pixels (`1 ≤ stride ≤ tile`).
    pub stride: usize,
}

impl Tiling {
    /// Check the window's own values: a positive tile and a stride between 1 and the tile,
    /// since a longer stride would leave pixels that no tile covers.
    pub fn validate(&self) -> crate::Result<()> {
        ensure!(self.tile >= 1, "the tile size must be at least 1 pixel");
        ensure!(
            self.stride >= 1 && self.stride <= self.tile,
            "the tile stride must be between 1 and the tile size ({}), got {}: a longer stride \
             leaves pixels no tile covers",
            self.tile,
            self.stride
        );
        Ok(())
    }

    /// The top-left corners `(row, column)` of the tiles of a `height × width` image, row by
    /// row; an error when the image is smaller than a tile.
    pub fn corners(&self, height: usize, width: usize) -> crate::Result<Vec<(usize, usize)>> {
        ensure!(
            height >= self.tile && width >= self.tile,
            "tiles of {0}×{0} pixels do not fit in {height}×{width} images; choose a smaller \
             --tile or larger images (--image-size, or --decode-size where the loader has it)",
            self.tile
        );
        let rows = starts(height, self.tile, self.stride);
        let columns = starts(width, self.tile, self.stride);
        Ok(rows
            .iter()
            .flat_map(|&r| columns.iter().map(move |&c| (r, c)))
            .collect())
    }

    /// Bytes the tiles of `images` images of `shape` take once cut (`f32` values).
    pub fn cut_bytes(&self, shape: SampleShape, images: usize) -> crate::Result<u64> {
        let SampleShape::Image {
            channels,
            height,
            width,
        } = shape
        else {
            anyhow::bail!("tiles cut images, but the data hold {shape}");
        };
        let per_image = self.corners(height, width)?.len() as u64;
        Ok(per_image * images as u64 * (channels * self.tile * self.tile) as u64 * 4)
    }

    /// The shape of one tile of images of `shape`.
    pub fn tile_shape(&self, shape: SampleShape) -> crate::Result<SampleShape> {
        match shape {
            SampleShape::Image { channels, .. } => Ok(SampleShape::Image {
                channels,
                height: self.tile,
                width: self.tile,
            }),
            other => anyhow::bail!("tiles cut images, but the data hold {other}"),
        }
    }

    /// Every tile of every image of `images`, image by image, each tile a sample with its
    /// image's label, origin and class (masks are not carried: tiles train and validate).
    pub fn cut(&self, images: &Samples) -> crate::Result<Samples> {
        let SampleShape::Image {
            channels,
            height,
            width,
        } = images.shape
        else {
            anyhow::bail!("tiles cut images, but the data hold {}", images.shape);
        };
        let corners = self.corners(height, width)?;
        let mut out = Samples::empty(self.tile_shape(images.shape)?);
        let n = images.len() * corners.len();
        out.values.reserve(n * channels * self.tile * self.tile);
        for i in 0..images.len() {
            let image = images.sample(i);
            for &corner in &corners {
                copy_tile(
                    image,
                    [channels, height, width],
                    corner,
                    self.tile,
                    &mut out.values,
                );
                out.labels.push(images.labels[i]);
                out.origin.push(images.origin[i]);
                out.classes.push(images.classes[i]);
            }
        }
        Ok(out)
    }
}

/// The start of each window of `tile` along a side of `len` pixels (`len ≥ tile`), `stride`
/// apart, the last one ending at the edge.
fn starts(len: usize, tile: usize, stride: usize) -> Vec<usize> {
    let last = len - tile;
    let mut out: Vec<usize> = (0..=last).step_by(stride).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// Append the `tile × tile` window at `(row, column)` of a `[C, H, W]` image, channel by
/// channel, to `out`.
pub fn copy_tile(
    image: &[f32],
    [channels, height, width]: [usize; 3],
    (row, column): (usize, usize),
    tile: usize,
    out: &mut Vec<f32>,
) {
    for c in 0..channels {
        let plane = &image[c * height * width..(c + 1) * height * width];
        for r in row..row + tile {
            out.extend_from_slice(&plane[r * width + column..r * width + column + tile]);
        }
    }
}

/// Maps of tiles put back together: each pixel the mean of the tile-map values that cover it.
#[derive(Clone, Debug)]
pub struct Stitcher {
    height: usize,
    width: usize,
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl Stitcher {
    /// An empty `height × width` map.
    pub fn new(height: usize, width: usize) -> Self {
        Stitcher {
            height,
            width,
            sum: vec![0.0; height * width],
            count: vec![0; height * width],
        }
    }

    /// Add the `tile × tile` map of the tile at `(row, column)`.
    pub fn add(&mut self, map: &[f32], (row, column): (usize, usize), tile: usize) {
        debug_assert_eq!(map.len(), tile * tile);
        for r in 0..tile {
            let at = (row + r) * self.width + column;
            for c in 0..tile {
                self.sum[at + c] += map[r * tile + c] as f64;
                self.count[at + c] += 1;
            }
        }
    }

    /// The stitched map, row-major; a pixel no tile covered is an error.
    pub fn finish(&self) -> crate::Result<Vec<f32>> {
        if let Some(p) = self.count.iter().position(|&c| c == 0) {
            anyhow::bail!(
                "no tile covered pixel ({}, {}) of the {}×{} map",
                p / self.width,
                p % self.width,
                self.height,
                self.width
            );
        }
        Ok(self
            .sum
            .iter()
            .zip(&self.count)
            .map(|(&s, &c)| (s / c as f64) as f32)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Origin;

    #[test]
    fn windows_cover_every_pixel_and_end_at_the_edge() {
        assert_eq!(starts(10, 4, 2), vec![0, 2, 4, 6]);
        assert_eq!(starts(11, 4, 2), vec![0, 2, 4, 6, 7]);
        assert_eq!(starts(4, 4, 3), vec![0]);
        assert_eq!(starts(9, 4, 4), vec![0, 4, 5]);
        let t = Tiling { tile: 4, stride: 3 };
        let corners = t.corners(6, 9).unwrap();
        assert_eq!(
            corners,
            vec![(0, 0), (0, 3), (0, 5), (2, 0), (2, 3), (2, 5)]
        );
        let err = t.corners(3, 9).unwrap_err().to_string();
        assert!(err.contains("do not fit in 3×9"), "{err}");
    }

    #[test]
    fn cut_size_is_counted_before_cutting() {
        let t = Tiling { tile: 4, stride: 2 };
        let shape = SampleShape::Image {
            channels: 3,
            height: 10,
            width: 11,
        };
        // 4 × 5 corners, 3 · 4 · 4 floats each, for 7 images.
        assert_eq!(t.cut_bytes(shape, 7).unwrap(), 20 * 48 * 4 * 7);
        assert!(t.cut_bytes(SampleShape::Table { features: 3 }, 1).is_err());
    }

    #[test]
    fn bad_windows_are_refused_by_name() {
        for (tile, stride) in [(0, 1), (4, 0), (4, 5)] {
            let err = Tiling { tile, stride }.validate().unwrap_err().to_string();
            assert!(err.contains("tile"), "{err}");
        }
        Tiling { tile: 4, stride: 4 }.validate().unwrap();
    }

    /// Cutting copies the right pixels; stitching the tiles of any image back gives the image.
    #[test]
    fn cut_then_stitch_is_the_identity() {
        let (c, h, w) = (2, 5, 7);
        let values: Vec<f32> = (0..c * h * w).map(|v| v as f32).collect();
        let images = Samples {
            values: values.clone(),
            shape: SampleShape::Image {
                channels: c,
                height: h,
                width: w,
            },
            labels: vec![1],
            origin: vec![Origin { split: 1, index: 3 }],
            classes: vec![2],
            masks: None,
            layout: None,
        };
        let t = Tiling { tile: 3, stride: 2 };
        let tiles = t.cut(&images).unwrap();
        let corners = t.corners(h, w).unwrap();
        assert_eq!(tiles.len(), corners.len());
        assert_eq!(tiles.labels, vec![1; corners.len()]);
        assert_eq!(tiles.classes, vec![2; corners.len()]);
        // The tile at (2, 4), channel 1, row 0: image[1][2][4..7].
        let k = corners.iter().position(|&p| p == (2, 4)).unwrap();
        let first_row_of_channel_1 = &tiles.sample(k)[9..12];
        let start = h * w + 2 * w + 4;
        assert_eq!(first_row_of_channel_1, &values[start..start + 3]);
        // Channel 0 of each tile, stitched, is channel 0 of the image.
        let mut stitcher = Stitcher::new(h, w);
        for (k, &corner) in corners.iter().enumerate() {
            stitcher.add(&tiles.sample(k)[..9], corner, 3);
        }
        assert_eq!(stitcher.finish().unwrap(), values[..h * w].to_vec());
        // A pixel left uncovered is an error, not a zero.
        let mut s = Stitcher::new(1, 4);
        s.add(&[1.0], (0, 0), 1);
        let err = s.finish().unwrap_err().to_string();
        assert!(err.contains("no tile covered"), "{err}");
    }

    #[test]
    fn overlapping_tiles_average() {
        let mut s = Stitcher::new(2, 3);
        s.add(&[1.0; 4], (0, 0), 2);
        s.add(&[3.0; 4], (0, 1), 2);
        assert_eq!(s.finish().unwrap(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    }
}
