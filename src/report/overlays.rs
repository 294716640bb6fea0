//! Pictures of where an image is anomalous, one PNG an image with four panels side by side:
//! the image; the image with its ground-truth defect outlined in green; the anomaly map as a
//! heat map over the image (blue cold → red hot, one colour scale for every picture of the
//! report, so that pictures compare); the pixels at or above the pixel threshold in red.

use crate::run::MapPicture;
use anyhow::Context;
use image::{Rgb, RgbImage};
use std::path::Path;

/// The smallest side a panel is drawn at: small images are enlarged (nearest neighbour).
const MIN_PANEL_SIDE: usize = 128;

/// Write each picture as `dir/NAME.png`, heat colours from one scale for all of them.
pub fn write_all(dir: &Path, pictures: &[MapPicture], threshold: f64) -> crate::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (lo, hi) = pictures
        .iter()
        .flat_map(|p| p.map.iter().copied())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    for picture in pictures {
        let path = dir.join(format!("{}.png", picture.name));
        render(picture, (lo, hi), threshold)
            .save(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Write a hyperspectral scene's picture as `dir/NAME.png`: composite, ground truth, scores
/// as heat (colours from the 1st to the 99.5th percentile of the scores, so that a few extreme
/// pixels do not wash out the rest), pixels at or above the run's threshold.
pub fn write_scene(dir: &Path, view: &crate::run::SceneView) -> crate::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut sorted = view.picture.map.clone();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let path = dir.join(format!("{}.png", view.picture.name));
    render(&view.picture, (at(0.01), at(0.995)), view.threshold)
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// One panel of a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// The image as it is.
    Image,
    /// The image with its ground-truth defect outlined in green.
    Truth,
    /// The anomaly map as a heat map over the image.
    Heat,
    /// The pixels at or above the pixel threshold in red.
    Region,
}

/// The four panels of one picture: image, truth, heat, region.
pub fn render(picture: &MapPicture, scale: (f32, f32), threshold: f64) -> RgbImage {
    render_panels(
        picture,
        scale,
        threshold,
        &[Panel::Image, Panel::Truth, Panel::Heat, Panel::Region],
    )
}

/// The chosen `panels` of one picture side by side, heat colours spanning `(lo, hi)`.
pub fn render_panels(
    picture: &MapPicture,
    (lo, hi): (f32, f32),
    threshold: f64,
    panels: &[Panel],
) -> RgbImage {
    let [channels, height, width] = picture.shape;
    let scale = MIN_PANEL_SIDE.div_ceil(height.min(width)).max(1);
    let (ph, pw) = (height * scale, width * scale);
    let mut out = RgbImage::new((panels.len() * pw) as u32, ph as u32);
    let grey = |y: usize, x: usize| -> [f32; 3] {
        let at = |c: usize| picture.image[c * height * width + y * width + x].clamp(0.0, 255.0);
        if channels == 3 {
            [at(0), at(1), at(2)]
        } else {
            [at(0); 3]
        }
    };
    let defect = |y: usize, x: usize| picture.mask.as_ref().is_some_and(|m| m[y * width + x] == 1);
    let on_outline = |y: usize, x: usize| {
        defect(y, x)
            && [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)]
                .iter()
                .any(|(dy, dx)| {
                    let (ny, nx) = (y as i64 + dy, x as i64 + dx);
                    ny < 0
                        || nx < 0
                        || ny >= height as i64
                        || nx >= width as i64
                        || !defect(ny as usize, nx as usize)
                })
    };
    let span = (hi - lo).max(f32::EPSILON);
    for py in 0..ph {
        for px in 0..pw {
            let (y, x) = (py / scale, px / scale);
            let base = grey(y, x);
            let value = picture.map[y * width + x];
            let colour_of = |panel: &Panel| match panel {
                Panel::Image => base,
                Panel::Truth if on_outline(y, x) => [0.0, 255.0, 0.0],
                Panel::Truth => base,
                Panel::Heat => blend(base, heat((value - lo) / span), 0.5),
                Panel::Region if value as f64 >= threshold => blend(base, [255.0, 0.0, 0.0], 0.6),
                Panel::Region => base,
            };
            for (k, colour) in panels.iter().map(colour_of).enumerate() {
                out.put_pixel(
                    (k * pw + px) as u32,
                    py as u32,
                    Rgb(colour.map(|c| c.round().clamp(0.0, 255.0) as u8)),
                );
            }
        }
    }
    out
}

/// Blue → cyan → yellow → red for `t` in [0, 1].
fn heat(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    let (r, g, b) = if t < 1.0 / 3.0 {
        (0.0, 3.0 * t, 1.0)
    } else if t < 2.0 / 3.0 {
        (3.0 * t - 1.0, 1.0, 2.0 - 3.0 * t)
    } else {
        (1.0, 3.0 - 3.0 * t, 0.0)
    };
    [r * 255.0, g * 255.0, b * 255.0]
}

fn blend(a: [f32; 3], b: [f32; 3], weight: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] * (1.0 - weight) + b[i] * weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 × 4 grey image whose map is hot in its defect corner: the outline panel is green on
    /// the defect's edge, the heat panel reddest where the map is highest, the region panel red
    /// exactly where the map reaches the threshold; small images are enlarged to 128 px.
    #[test]
    fn panels_show_the_mask_the_map_and_the_region() {
        let mut mask = vec![0u8; 16];
        for i in [0, 1, 4, 5] {
            mask[i] = 1;
        }
        let map: Vec<f32> = (0..16)
            .map(|i| if mask[i] == 1 { 1.0 } else { 0.0 })
            .collect();
        let picture = MapPicture {
            name: "x".into(),
            image: vec![100.0; 16],
            shape: [1, 4, 4],
            map,
            mask: Some(mask),
            score: 1.0,
            label: 1,
        };
        let img = render(&picture, (0.0, 1.0), 0.5);
        assert_eq!(img.dimensions(), (4 * 128, 128));
        let panel = |k: u32, y: u32, x: u32| img.get_pixel(k * 128 + x * 32 + 16, y * 32 + 16).0;
        assert_eq!(panel(0, 0, 0), [100, 100, 100]);
        assert_eq!(panel(1, 0, 0), [0, 255, 0], "defect edge outlined");
        assert_eq!(panel(1, 3, 3), [100, 100, 100], "no outline off the defect");
        assert!(
            panel(2, 0, 0)[0] > panel(2, 3, 3)[0],
            "hot where the map is high"
        );
        assert!(
            panel(3, 0, 0)[0] > 150 && panel(3, 0, 0)[1] < 100,
            "region in red"
        );
        assert_eq!(panel(3, 3, 3), [100, 100, 100]);
    }
}
