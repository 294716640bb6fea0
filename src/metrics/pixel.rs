//! Localisation metrics: anomaly maps (higher = more anomalous, one value per pixel) against
//! ground-truth masks (1 = defect), pooled over a test set, as the MVTec AD papers and anomalib
//! report them.
//!
//! - Pixel AUROC and pixel AUPRC: the image metrics ([`super::auroc`],
//!   [`super::average_precision`]) over every pixel of every image.
//! - AUPRO: the per-region overlap curve. At a threshold t the false-positive rate is the share
//!   of all normal pixels with score ≥ t, and PRO the mean, over the ground-truth regions
//!   (connected components of each mask, 8-connected as the MVTec AD evaluation labels them), of
//!   the share of the region's pixels with score ≥ t. The curve from (0, 0) through every
//!   distinct score is integrated with the trapezoid rule up to FPR = 0.3 (the last segment
//!   interpolated linearly) and divided by 0.3, so that 1 is perfect.
//! - Dice and IoU of the pixels at or above a threshold, pooled over the set.
//! - Image AUROC of each map's maximum, to set beside the model's own image score.
//!
//! Memory: the sweep is exact, so every pixel's score is held (9 bytes a pixel: its score, its
//! mask value and its region); 1 000 test images of 256 × 256 take about 590 MB.

use anyhow::{bail, ensure};
use serde::{Deserialize, Serialize};

/// The false-positive rate AUPRO integrates up to.
pub const AUPRO_FPR_LIMIT: f64 = 0.3;

/// Localisation metrics of a test set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PixelMetrics {
    /// Pixels scored.
    pub pixels: usize,
    /// Pixels marked defective in the masks.
    pub anomalous_pixels: usize,
    /// Ground-truth regions (8-connected components of the masks).
    pub regions: usize,
    /// Area under the ROC curve over every pixel.
    pub pixel_auroc: f64,
    /// Average precision over every pixel.
    pub pixel_auprc: f64,
    /// Normalised area under the per-region-overlap curve up to 30 % FPR.
    pub aupro: f64,
    /// The pixel threshold of `dice` and `iou`.
    pub pixel_threshold: f64,
    /// Dice coefficient of the pixels at or above the threshold.
    pub dice: f64,
    /// Intersection over union of the pixels at or above the threshold.
    pub iou: f64,
    /// Image AUROC of each map's maximum (an image is anomalous when its mask has a defect).
    pub image_auroc_of_map_max: f64,
}

/// The maps and masks of a test set, added image by image.
#[derive(Clone, Debug, Default)]
pub struct PixelScores {
    scores: Vec<f32>,
    truth: Vec<u8>,
    /// Per pixel: 0 for a normal pixel, else 1 + the index of its region in `region_sizes`.
    region: Vec<u32>,
    region_sizes: Vec<u32>,
    image_max: Vec<f32>,
    image_truth: Vec<u8>,
}

impl PixelScores {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ground-truth regions so far.
    pub fn regions(&self) -> usize {
        self.region_sizes.len()
    }

    /// Add one image's `map` and `mask` (row-major, `width` pixels a row, the same size); the
    /// image counts as anomalous (for the image AUROC of map maxima) when its mask has a defect.
    pub fn push(&mut self, map: &[f32], mask: &[u8], width: usize) -> crate::Result<()> {
        let label = mask.iter().any(|&v| v == 1) as u8;
        self.push_labelled(map, mask, width, label)
    }

    /// [`PixelScores::push`] with the image's own label (1 = anomalous), so that the image AUROC
    /// of map maxima counts images as the image metrics do, whatever their masks hold.
    pub fn push_labelled(
        &mut self,
        map: &[f32],
        mask: &[u8],
        width: usize,
        label: u8,
    ) -> crate::Result<()> {
        ensure!(
            map.len() == mask.len(),
            "an anomaly map of {} pixels against a mask of {}",
            map.len(),
            mask.len()
        );
        ensure!(
            width > 0 && map.len().is_multiple_of(width) && !map.is_empty(),
            "a map of {} pixels cannot be {width} pixels wide",
            map.len()
        );
        if let Some(i) = map.iter().position(|v| !v.is_finite()) {
            bail!("the anomaly map has a non-finite value at pixel {i}");
        }
        if let Some(&v) = mask.iter().find(|&&v| v > 1) {
            bail!("a mask value {v}: masks hold 0 (normal) or 1 (defect)");
        }
        let (labels, sizes) = regions(mask, width);
        let first = self.region_sizes.len() as u32;
        self.region
            .extend(labels.iter().map(|&l| if l == 0 { 0 } else { first + l }));
        self.region_sizes.extend(sizes);
        self.scores.extend_from_slice(map);
        self.truth.extend_from_slice(mask);
        self.image_max
            .push(map.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        self.image_truth.push(label);
        Ok(())
    }

    /// Every metric, Dice and IoU at `threshold`.
    pub fn metrics(&self, threshold: f64) -> crate::Result<PixelMetrics> {
        ensure!(
            !self.region_sizes.is_empty(),
            "localisation metrics need at least one defect in the masks"
        );
        let (dice, iou) = overlap(&self.scores, &self.truth, threshold);
        Ok(PixelMetrics {
            pixels: self.scores.len(),
            anomalous_pixels: self.truth.iter().filter(|&&v| v == 1).count(),
            regions: self.region_sizes.len(),
            pixel_auroc: super::auroc(&self.scores, &self.truth)?,
            pixel_auprc: super::average_precision(&self.scores, &self.truth)?,
            aupro: self.aupro(AUPRO_FPR_LIMIT)?,
            pixel_threshold: threshold,
            dice,
            iou,
            image_auroc_of_map_max: super::auroc(&self.image_max, &self.image_truth)?,
        })
    }

    /// The normalised area under the PRO curve up to `limit` FPR.
    pub fn aupro(&self, limit: f64) -> crate::Result<f64> {
        ensure!(
            limit > 0.0 && limit <= 1.0,
            "the AUPRO FPR limit must be in (0, 1], got {limit}"
        );
        let normals = self.truth.iter().filter(|&&v| v == 0).count();
        ensure!(normals > 0, "AUPRO needs normal pixels");
        ensure!(!self.region_sizes.is_empty(), "AUPRO needs a defect region");
        let weight: Vec<f64> = self
            .region_sizes
            .iter()
            .map(|&n| 1.0 / (n as f64 * self.region_sizes.len() as f64))
            .collect();
        let mut order: Vec<usize> = (0..self.scores.len()).collect();
        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]));
        let (mut false_positives, mut pro) = (0usize, 0.0f64);
        let (mut area, mut last) = (0.0f64, (0.0f64, 0.0f64));
        for (n, &k) in order.iter().enumerate() {
            match self.region[k] {
                0 => false_positives += 1,
                r => pro += weight[r as usize - 1],
            }
            let last_of_tie = n + 1 == order.len() || self.scores[order[n + 1]] != self.scores[k];
            if !last_of_tie {
                continue;
            }
            let point = (false_positives as f64 / normals as f64, pro);
            if point.0 >= limit {
                let (x0, y0) = last;
                let y = y0 + (point.1 - y0) * (limit - x0) / (point.0 - x0);
                area += (limit - x0) * (y0 + y) / 2.0;
                return Ok(area / limit);
            }
            area += (point.0 - last.0) * (last.1 + point.1) / 2.0;
            last = point;
        }
        // Unreachable for limit ≤ 1: the last point has FPR 1.
        Ok(area / limit)
    }
}

/// Dice and IoU of the pixels at or above `threshold` against the defect pixels.
fn overlap(scores: &[f32], truth: &[u8], threshold: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&s, &t) in scores.iter().zip(truth) {
        match (s as f64 >= threshold, t == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    (ratio(2 * tp, 2 * tp + fp + fneg), ratio(tp, tp + fp + fneg))
}

/// The 8-connected components of a mask's defect pixels: per pixel 0 (normal) or the
/// component's number from 1, and each component's size.
pub fn regions(mask: &[u8], width: usize) -> (Vec<u32>, Vec<u32>) {
    let height = mask.len() / width;
    let mut label = vec![0u32; mask.len()];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if mask[start] != 1 || label[start] != 0 {
            continue;
        }
        sizes.push(0);
        let id = sizes.len() as u32;
        label[start] = id;
        stack.push(start);
        while let Some(p) = stack.pop() {
            sizes[id as usize - 1] += 1;
            let (y, x) = (p / width, p % width);
            for dy in [-1i64, 0, 1] {
                for dx in [-1i64, 0, 1] {
                    let (ny, nx) = (y as i64 + dy, x as i64 + dx);
                    if ny < 0 || nx < 0 || ny >= height as i64 || nx >= width as i64 {
                        continue;
                    }
                    let q = ny as usize * width + nx as usize;
                    if mask[q] == 1 && label[q] == 0 {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
    }
    (label, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Maps with ties, a corner-touching region, a defect-free image (scikit-learn and
    // scikit-image; see tests/oracle/pixel_oracle.py).
    include!("../../tests/oracle/pixel_oracle.rs");

    fn oracle_set() -> PixelScores {
        let mut set = PixelScores::new();
        for (map, mask) in ORACLE_MAPS.iter().zip(&ORACLE_MASKS) {
            set.push(map, mask, 4).unwrap();
        }
        set
    }

    #[test]
    fn metrics_match_the_oracle() {
        let m = oracle_set().metrics(0.6).unwrap();
        let close =
            |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}");
        assert_eq!(m.regions, ORACLE_REGIONS);
        close(m.pixel_auroc, ORACLE_PIXEL_AUROC, "pixel AUROC");
        close(m.pixel_auprc, ORACLE_PIXEL_AUPRC, "pixel AUPRC");
        close(m.aupro, ORACLE_AUPRO, "AUPRO");
        close(m.dice, ORACLE_DICE_AT_06, "Dice");
        close(m.iou, ORACLE_IOU_AT_06, "IoU");
        close(
            m.image_auroc_of_map_max,
            ORACLE_IMAGE_AUROC_OF_MAX,
            "image AUROC of max",
        );
    }

    /// A perfect map gives AUPRO 1; a map that ranks every normal pixel first gives 0.
    #[test]
    fn aupro_spans_zero_to_one() {
        let mask = [0u8, 0, 1, 1, 0, 0, 0, 0, 1];
        let perfect: Vec<f32> = mask.iter().map(|&m| m as f32).collect();
        let inverted: Vec<f32> = mask.iter().map(|&m| 1.0 - m as f32).collect();
        let mut set = PixelScores::new();
        set.push(&perfect, &mask, 3).unwrap();
        assert!((set.aupro(0.3).unwrap() - 1.0).abs() < 1e-12);
        let mut set = PixelScores::new();
        set.push(&inverted, &mask, 3).unwrap();
        assert_eq!(set.aupro(0.3).unwrap(), 0.0);
    }

    /// Components are 8-connected: a diagonal chain is one region, two blocks apart are two.
    #[test]
    fn regions_are_eight_connected() {
        let mask = [1u8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0];
        let (labels, sizes) = regions(&mask, 4);
        assert_eq!(sizes, vec![3, 1]);
        assert_eq!(labels[0], labels[10]);
        assert_ne!(labels[0], labels[12]);
    }

    /// Mismatched sizes, masks that are not 0/1, non-finite maps and a set without defects are
    /// errors, not panics.
    #[test]
    fn bad_inputs_are_errors() {
        let mut set = PixelScores::new();
        assert!(set.push(&[0.1, 0.2], &[0, 1, 0], 1).is_err());
        assert!(set.push(&[0.1, 0.2], &[0, 255], 1).is_err());
        assert!(set.push(&[0.1, f32::NAN], &[0, 1], 1).is_err());
        assert!(set.push(&[0.1, 0.2, 0.3], &[0, 1, 0], 2).is_err());
        set.push(&[0.1, 0.2], &[0, 0], 2).unwrap();
        let e = set.metrics(0.5).unwrap_err();
        assert!(e.to_string().contains("defect"), "{e}");
    }
}
