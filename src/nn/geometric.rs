//! GEOM's geometric transformations (the official `transformations.py`): horizontal flip
//! {no, yes} × translation along the rows {0, −t, +t} × along the columns {0, −t, +t} × rotation
//! by k·90° (k = 0…3), applied in that order, 72 in all for t = 8, in the code's order
//! (`itertools.product`).
//!
//! Each transformation of an `H × W` image is a permutation-with-repeats of its pixels, so it is
//! computed once as a map from output pixel to source pixel and applied to a batch by one
//! gather. Translations read outside the image by reflection about the edge (SciPy's
//! `reflect`, which Keras' `fill_mode='reflect'` selects: `d c b a | a b c d | d c b a`);
//! Keras' `tx` moves along the rows, `ty` along the columns, as `output(r, c) = input(r + tx,
//! c + ty)`. Rotations turn counter-clockwise (`np.rot90`) and need square images.

use burn::prelude::*;

/// One transformation: flip, then translate, then rotate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transformation {
    /// Mirror left–right first.
    pub flip: bool,
    /// Rows shift: output row r reads input row r + tx.
    pub tx: i64,
    /// Columns shift: output column c reads input column c + ty.
    pub ty: i64,
    /// Quarter turns counter-clockwise, last.
    pub quarter_turns: usize,
}

/// The code's list for a translation of `shift` pixels: 72 transformations.
pub fn geometric(shift: i64) -> Vec<Transformation> {
    let mut list = Vec::with_capacity(72);
    for flip in [false, true] {
        for tx in [0, -shift, shift] {
            for ty in [0, -shift, shift] {
                for quarter_turns in 0..4 {
                    list.push(Transformation {
                        flip,
                        tx,
                        ty,
                        quarter_turns,
                    });
                }
            }
        }
    }
    list
}

/// A shift of `shift` pixels must move an `image_size` image and stay inside it; each error
/// names `model`'s setting.
pub fn check_shift(model: &str, shift: usize, image_size: usize) -> crate::Result<()> {
    anyhow::ensure!(
        shift >= 1 && shift < image_size,
        "{model} shift ({shift}) must be at least 1 (else flips and turns repeat under other labels) and smaller than the image side ({image_size})"
    );
    Ok(())
}

/// SciPy's `reflect` boundary: index `i` of an axis of length `n`, reflected about the edges.
fn reflect(i: i64, n: i64) -> i64 {
    let period = 2 * n;
    let i = i.rem_euclid(period);
    if i < n { i } else { period - 1 - i }
}

impl Transformation {
    /// For each output pixel of a `side × side` image (row-major), the source pixel it copies.
    pub fn source_pixels(&self, side: usize) -> Vec<usize> {
        let n = side as i64;
        // An "image" whose values are source indices, put through the same operations.
        let mut map: Vec<usize> = (0..side * side).collect();
        if self.flip {
            map = (0..side * side)
                .map(|p| map[(p / side) * side + (side - 1 - p % side)])
                .collect();
        }
        if self.tx != 0 || self.ty != 0 {
            map = (0..side * side)
                .map(|p| {
                    let (r, c) = ((p / side) as i64, (p % side) as i64);
                    let (sr, sc) = (reflect(r + self.tx, n), reflect(c + self.ty, n));
                    map[(sr * n + sc) as usize]
                })
                .collect();
        }
        for _ in 0..self.quarter_turns {
            // np.rot90: out[i][j] = in[j][side − 1 − i].
            map = (0..side * side)
                .map(|p| map[(p % side) * side + (side - 1 - p / side)])
                .collect();
        }
        map
    }
}

/// Every transformation of a batch at once.
#[derive(Clone, Debug)]
pub struct TransformBank {
    /// How many transformations.
    count: usize,
    /// Concatenated source maps, `count · side²` indices.
    sources: Vec<i64>,
    side: usize,
}

impl TransformBank {
    /// The bank of `list` for `side × side` images.
    pub fn new(list: &[Transformation], side: usize) -> Self {
        let sources = list
            .iter()
            .flat_map(|t| t.source_pixels(side))
            .map(|p| p as i64)
            .collect();
        TransformBank {
            count: list.len(),
            sources,
            side,
        }
    }

    /// How many transformations.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the bank is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Transformations `which` of images `x` `[B, C, S, S]`: `[B·K, C, S, S]`, image-major (row
    /// `b·K + k` is image b under transformation `which[k]`).
    pub fn apply(&self, x: Tensor<4>, which: &[usize]) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let pixels = self.side * self.side;
        debug_assert_eq!((h, w), (self.side, self.side));
        let k = which.len();
        let indices: Vec<i64> = which
            .iter()
            .flat_map(|&t| self.sources[t * pixels..(t + 1) * pixels].iter().copied())
            .collect();
        let device = x.device();
        let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [k * pixels]), &device);
        x.reshape([b, c, pixels])
            .select(2, indices)
            .reshape([b, c, k, h, w])
            .swap_dims(1, 2)
            .reshape([b * k, c, h, w])
    }

    /// All transformations of `x`: `[B·K, C, S, S]`, image-major.
    pub fn apply_all(&self, x: Tensor<4>) -> Tensor<4> {
        let all: Vec<usize> = (0..self.count).collect();
        self.apply(x, &all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The maps against NumPy's operations on a 4 × 4 index image, worked by hand: `fliplr`,
    /// a reflected shift, `rot90`; and the code's order of the 72.
    #[test]
    fn maps_follow_numpy_and_scipy() {
        let id = Transformation {
            flip: false,
            tx: 0,
            ty: 0,
            quarter_turns: 0,
        };
        assert_eq!(id.source_pixels(4), (0..16).collect::<Vec<_>>());
        let flip = Transformation { flip: true, ..id };
        assert_eq!(&flip.source_pixels(4)[..4], &[3, 2, 1, 0]);
        // rot90 of [[0,1],[2,3]] is [[1,3],[0,2]].
        let turn = Transformation {
            quarter_turns: 1,
            ..id
        };
        assert_eq!(turn.source_pixels(2), vec![1, 3, 0, 2]);
        // Rows shifted by +2 on 4 rows: rows 2, 3, then reflected 3, 2.
        let down = Transformation { tx: 2, ..id };
        let rows: Vec<usize> = down
            .source_pixels(4)
            .iter()
            .step_by(4)
            .map(|p| p / 4)
            .collect();
        assert_eq!(rows, vec![2, 3, 3, 2]);
        let left = Transformation { ty: -2, ..id };
        assert_eq!(&left.source_pixels(4)[..4], &[1, 0, 0, 1]);
        let list = geometric(8);
        assert_eq!(list.len(), 72);
        assert_eq!(list[0], id);
        assert_eq!(
            list[5],
            Transformation {
                flip: false,
                tx: 0,
                ty: -8,
                quarter_turns: 1
            }
        );
        assert!(list[36].flip && list[35].tx == 8 && list[35].quarter_turns == 3);
        assert_eq!(reflect(-1, 4), 0);
        assert_eq!(reflect(-3, 4), 2);
        assert_eq!(reflect(5, 4), 2);
    }

    /// The bank gathers each image's transformations in order, image-major.
    #[test]
    fn the_bank_gathers_image_major() {
        let device = Device::flex();
        let list = geometric(1);
        let bank = TransformBank::new(&list, 2);
        let x = Tensor::<4>::from_data(
            TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [2, 2, 2, 2]),
            &device,
        );
        let out = bank
            .apply(x, &[0, 1])
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // Image 0 (channels [0..4], [4..8]) as is, then turned; then image 1.
        assert_eq!(
            out,
            vec![
                0., 1., 2., 3., 4., 5., 6., 7., 1., 3., 0., 2., 5., 7., 4., 6., 8., 9., 10., 11.,
                12., 13., 14., 15., 9., 11., 8., 10., 13., 15., 12., 14.
            ]
        );
    }
}
