//! Hyperspectral scenes for anomaly detection: a cube of `height × width` pixels with `bands`
//! values each, and a ground-truth map of the same `height × width` (nonzero = anomaly), read
//! from a MATLAB MAT-file ([`super::mat`]) holding both, or from an ENVI raster
//! ([`super::envi`]) with the map in a file of its own (`--map-file`: a one-band ENVI raster, a
//! PNG, or a MAT-file).
//!
//! A scene becomes a table with one row per pixel (the pixel's spectrum), pixels in row-major
//! order (`row * width + column`), classes `background` and `anomaly` from the map; its
//! [`SceneLayout`] keeps the geometry so that scores can be drawn back as a map.

use super::envi;
use super::mat::{self, MatVariable};
use super::{LabelledSet, SampleShape};
use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a scene's pixels sit: the table's row `r * width + c` is pixel (r, c).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneLayout {
    /// Rows of the scene.
    pub height: usize,
    /// Columns of the scene.
    pub width: usize,
}

/// One scene: spectra and ground truth.
#[derive(Clone, Debug)]
pub struct Scene {
    /// The geometry.
    pub layout: SceneLayout,
    /// Values per pixel.
    pub bands: usize,
    /// `height * width * bands` values, pixel-major (row-major pixels, bands innermost).
    pub pixels: Vec<f32>,
    /// `height * width` labels, 1 = anomaly (row-major).
    pub map: Vec<u8>,
    /// Band centre wavelengths in nanometres, when the file gives them (ENVI headers do).
    pub wavelengths_nm: Option<Vec<f64>>,
}

/// Which variables of a MAT-file hold the cube and the map; each found automatically when
/// `None` and unambiguous.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneVariables {
    /// The cube's variable (`data`, `hsi`, …).
    pub cube: Option<String>,
    /// The ground-truth map's variable (`map`, `groundtruth`, …).
    pub map: Option<String>,
    /// A file holding the map, when it is not in the cube's file (always so for ENVI): a
    /// one-band ENVI raster, a PNG (nonzero = anomaly) or a MAT-file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_file: Option<PathBuf>,
}

impl Scene {
    /// The scene as a table of spectra, one row per pixel, classes `background` (0) and
    /// `anomaly` (1).
    pub fn to_set(&self) -> LabelledSet {
        LabelledSet {
            values: self.pixels.clone(),
            shape: SampleShape::Table {
                features: self.bands,
            },
            classes: self.map.iter().map(|&m| m as u32).collect(),
            class_names: vec!["background".into(), "anomaly".into()],
            masks: None,
            layout: Some(self.layout),
        }
    }
}

impl Scene {
    /// The bands a composite shows as red, green and blue: those nearest 640, 550 and 460 nm
    /// (true colour) when the wavelengths are known, else the bands at three quarters, half and
    /// a quarter of the band range (for an AVIRIS cube: short-wave infrared, near infrared and
    /// red, a false-colour composite).
    pub fn composite_bands(&self) -> [usize; 3] {
        let b = self.bands;
        match &self.wavelengths_nm {
            Some(w) if w.len() == b => [640.0, 550.0, 460.0].map(|target: f64| {
                (0..b)
                    .min_by(|&i, &j| (w[i] - target).abs().total_cmp(&(w[j] - target).abs()))
                    .unwrap_or(0)
            }),
            _ => [3 * b / 4, b / 2, b / 4],
        }
    }

    /// A false-colour composite of [`Scene::composite_bands`], channels first (`3 × height ×
    /// width`), each band stretched linearly from its 2nd to its 98th percentile onto 0–255.
    pub fn false_colour(&self) -> Vec<f32> {
        let n = self.layout.height * self.layout.width;
        let mut out = Vec::with_capacity(3 * n);
        for band in self.composite_bands() {
            let values: Vec<f32> = (0..n).map(|p| self.pixels[p * self.bands + band]).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f32::total_cmp);
            let at = |q: f64| sorted[((n - 1) as f64 * q).round() as usize];
            let (lo, hi) = (at(0.02), at(0.98));
            let span = (hi - lo).max(f32::EPSILON);
            out.extend(
                values
                    .iter()
                    .map(|v| ((v - lo) / span * 255.0).clamp(0.0, 255.0)),
            );
        }
        out
    }
}

/// Read the scene to score at `path`: a MAT-file holding its map (or with the map in
/// `variables.map_file`), or an ENVI raster (its header or its data file) whose map is in
/// `variables.map_file`.
pub fn load(path: &Path, variables: &SceneVariables) -> crate::Result<Scene> {
    let map = match &variables.map_file {
        Some(file) => MapFrom::File(file),
        None => MapFrom::Inside,
    };
    read_scene(path, variables, map)
}

/// Read a scene that only trains (`--train-scene`): its labels are never read, so its map is
/// taken from its own MAT-file when it holds one (for `split.csv`), and every pixel counts as
/// background otherwise; `variables.map_file` belongs to the scored scene.
pub fn load_training(path: &Path, variables: &SceneVariables) -> crate::Result<Scene> {
    read_scene(path, variables, MapFrom::InsideIfAny)
}

/// Where a scene's map comes from.
enum MapFrom<'a> {
    /// A file of its own.
    File(&'a Path),
    /// The cube's MAT-file; an error if it has none.
    Inside,
    /// The cube's MAT-file if it has one, else all background.
    InsideIfAny,
}

/// Whether `path` is a MAT-file (its header's first bytes), even beside an ENVI header.
fn is_mat(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 6];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut start).is_ok())
        && &start == b"MATLAB"
}

fn read_scene(path: &Path, variables: &SceneVariables, map: MapFrom<'_>) -> crate::Result<Scene> {
    let mut scene = if !is_mat(path) && envi::is_envi(path) {
        let raster = envi::read(path)?;
        if let MapFrom::Inside = map {
            bail!(
                "{}: an ENVI scene needs its ground-truth map in a file of its own (--map-file)",
                path.display()
            );
        }
        let layout = SceneLayout {
            height: raster.lines,
            width: raster.samples,
        };
        Scene {
            layout,
            bands: raster.bands,
            pixels: finite_pixels(&raster.values, raster.bands, "the cube")
                .with_context(|| format!("{}", path.display()))?,
            map: vec![0; layout.height * layout.width],
            wavelengths_nm: raster.wavelengths_nm,
        }
    } else {
        let all = mat::read(path)?;
        let inside = !matches!(map, MapFrom::File(_));
        let scene = scene_of(all.clone(), variables, inside);
        match (scene, &map) {
            (Ok(scene), _) => Ok(scene),
            // A training scene without a (findable) map: its cube alone.
            (Err(_), MapFrom::InsideIfAny) => scene_of(all, variables, false),
            (Err(e), _) => Err(e),
        }
        .with_context(|| format!("{}", path.display()))?
    };
    if let MapFrom::File(file) = map {
        scene.map = map_from_file(file, scene.layout, variables)?;
    }
    Ok(scene)
}

/// Pixel-major values as `f32`, refusing a value that is not finite.
fn finite_pixels(values: &[f64], bands: usize, what: &str) -> crate::Result<Vec<f32>> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        bail!(
            "{what} holds {} at pixel {}, band {} (0-based, row-major pixels); drop or fill that \
             band first",
            values[i],
            i / bands,
            i % bands
        );
    }
    Ok(values.iter().map(|&v| v as f32).collect())
}

/// A ground-truth map read from a file of its own, which must have the scene's size.
fn map_from_file(
    path: &Path,
    layout: SceneLayout,
    variables: &SceneVariables,
) -> crate::Result<Vec<u8>> {
    let (height, width, values): (usize, usize, Vec<f64>) = if !is_mat(path) && envi::is_envi(path)
    {
        let raster = envi::read(path)?;
        ensure!(
            raster.bands == 1,
            "{}: a map must have one band, this raster has {}",
            path.display(),
            raster.bands
        );
        (raster.lines, raster.samples, raster.values)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        // 16 bits, so that a 16-bit map of 0 and 1 keeps its ones.
        let image = image::open(path)
            .with_context(|| format!("cannot read the map {}", path.display()))?
            .to_luma16();
        let (w, h) = image.dimensions();
        (
            h as usize,
            w as usize,
            image.pixels().map(|p| p.0[0] as f64).collect(),
        )
    } else {
        let all = mat::read(path)?;
        let listing = all
            .iter()
            .map(|v| v.name.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let map = pick(
            &all,
            variables.map.as_deref(),
            "ground-truth map",
            "--map-var",
            &listing,
            2,
            |_| true,
        )
        .with_context(|| format!("{}", path.display()))?;
        let values = numeric(map)?;
        let (h, w) = (map.dims[0], map.dims[1]);
        // Column-major in the file.
        let row_major = (0..h * w).map(|i| values[(i % w) * h + i / w]).collect();
        (h, w, row_major)
    };
    ensure!(
        (height, width) == (layout.height, layout.width),
        "{}: the map is {height}×{width} but the scene is {}×{}",
        path.display(),
        layout.height,
        layout.width
    );
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        bail!(
            "{}: the map holds {v}; a map holds 0 (background) and nonzero (anomaly)",
            path.display()
        );
    }
    Ok(values.iter().map(|&v| (v != 0.0) as u8).collect())
}

/// The scene held by a MAT-file's variables: its cube, and its map when `with_map` (else
/// every pixel background, for a map read from elsewhere).
pub fn scene_of(
    all: Vec<MatVariable>,
    variables: &SceneVariables,
    with_map: bool,
) -> crate::Result<Scene> {
    let listing = all
        .iter()
        .map(|v| format!("{} ({} {:?})", v.name, v.class, v.dims))
        .collect::<Vec<_>>()
        .join(", ");
    let cube = pick(
        &all,
        variables.cube.as_deref(),
        "cube",
        "--cube-var",
        &listing,
        3,
        |_| true,
    )?;
    let [height, width, bands] = [cube.dims[0], cube.dims[1], cube.dims[2]];
    ensure!(
        height > 0 && width > 0 && bands > 0,
        "the cube {:?} is empty ({height}×{width}×{bands})",
        cube.name
    );
    let cube_values = numeric(cube)?;
    let n = height * width;
    let mut labels = vec![0u8; n];
    if with_map {
        let map = pick(
            &all,
            variables.map.as_deref(),
            "ground-truth map",
            "--map-var",
            &listing,
            2,
            |v| v.dims[0] == height && v.dims[1] == width,
        )?;
        ensure!(
            map.dims == [height, width],
            "the map {:?} is {:?} but the cube {:?} is {height}×{width}×{bands}: a map must have \
             the cube's height and width",
            map.name,
            map.dims,
            cube.name
        );
        let map_values = numeric(map)?;
        for c in 0..width {
            for r in 0..height {
                let v = map_values[r + height * c];
                ensure!(
                    v.is_finite(),
                    "the map {:?} holds {v} at row {r}, column {c}",
                    map.name
                );
                labels[r * width + c] = (v != 0.0) as u8;
            }
        }
    }
    let mut pixels = vec![0f32; n * bands];
    for b in 0..bands {
        for c in 0..width {
            for r in 0..height {
                let v = cube_values[r + height * c + n * b];
                if !v.is_finite() {
                    bail!(
                        "the cube {:?} holds {v} at row {r}, column {c}, band {b} (0-based); \
                         drop or fill that band first",
                        cube.name
                    );
                }
                pixels[(r * width + c) * bands + b] = v as f32;
            }
        }
    }
    Ok(Scene {
        layout: SceneLayout { height, width },
        bands,
        pixels,
        map: labels,
        wavelengths_nm: None,
    })
}

/// The values of a numeric variable.
fn numeric(v: &MatVariable) -> crate::Result<&[f64]> {
    v.values.as_deref().with_context(|| {
        format!(
            "the variable {:?} is a {} array, not a real numeric one",
            v.name, v.class
        )
    })
}

/// The variable called `name`, which must have `rank` dimensions, or else the only one of
/// that rank for which `fits` holds.
fn pick<'a>(
    all: &'a [MatVariable],
    name: Option<&str>,
    what: &str,
    flag: &str,
    listing: &str,
    rank: usize,
    fits: impl Fn(&MatVariable) -> bool,
) -> crate::Result<&'a MatVariable> {
    if let Some(name) = name {
        let v = all.iter().find(|v| v.name == name).with_context(|| {
            format!("no variable {name:?} for the {what}; the file holds {listing}")
        })?;
        ensure!(
            v.dims.len() == rank,
            "the variable {name:?} has dimensions {:?}; the {what} must have {rank}",
            v.dims
        );
        return Ok(v);
    }
    let candidates: Vec<&MatVariable> = all
        .iter()
        .filter(|v| v.dims.len() == rank && fits(v))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => bail!("no variable looks like the {what}; the file holds {listing}"),
        _ => bail!(
            "several variables could be the {what} ({}); name it with {flag}",
            candidates
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mat::tests::{Writer, u16_bytes};

    /// A 2×3×2 cube (column-major as MATLAB stores it) whose value at (r, c, b) is
    /// `100 b + 10 r + c`, and a map marking (1, 2).
    fn file(extra: bool) -> Vec<u8> {
        let (h, w, b) = (2usize, 3usize, 2usize);
        let mut cube = vec![0u16; h * w * b];
        for bi in 0..b {
            for c in 0..w {
                for r in 0..h {
                    cube[r + h * c + h * w * bi] = (100 * bi + 10 * r + c) as u16;
                }
            }
        }
        let mut map = vec![0u8; h * w];
        map[1 + h * 2] = 1;
        let mut writer = Writer::new(true)
            .variable("map", &[2, 3], 6, false, 2, &map)
            .variable("data", &[2, 3, 2], 6, false, 4, &u16_bytes(&cube));
        if extra {
            writer = writer.variable("data2", &[2, 3, 2], 6, false, 4, &u16_bytes(&cube));
        }
        writer.finish()
    }

    #[test]
    fn pixels_come_row_major_with_bands_innermost() {
        let scene = scene_of(
            mat::parse(&file(false)).unwrap(),
            &SceneVariables::default(),
            true,
        )
        .unwrap();
        assert_eq!(
            scene.layout,
            SceneLayout {
                height: 2,
                width: 3
            }
        );
        assert_eq!(scene.bands, 2);
        // Pixel (1, 2) is row 1 * 3 + 2 = 5: bands 12 and 112.
        assert_eq!(&scene.pixels[5 * 2..6 * 2], &[12.0, 112.0]);
        assert_eq!(&scene.pixels[0..2], &[0.0, 100.0]);
        assert_eq!(scene.map, vec![0, 0, 0, 0, 0, 1]);
        let set = scene.to_set();
        assert_eq!(set.classes[5], 1);
        assert_eq!(set.class_names[1], "anomaly");
    }

    #[test]
    fn the_false_colour_composite_stretches_three_bands_channels_first() {
        let scene = Scene {
            layout: SceneLayout {
                height: 1,
                width: 3,
            },
            bands: 4,
            // Band b of pixel p holds 10 p + b.
            pixels: (0..3)
                .flat_map(|p| (0..4).map(move |b| (10 * p + b) as f32))
                .collect(),
            map: vec![0, 1, 0],
            wavelengths_nm: None,
        };
        assert_eq!(scene.composite_bands(), [3, 2, 1]);
        let rgb = scene.false_colour();
        assert_eq!(rgb.len(), 9);
        // Each band rises from pixel 0 to 2: stretched to 0, 127.5, 255 (the 2nd and 98th
        // percentiles of three values are the first and the last).
        for c in 0..3 {
            assert_eq!(&rgb[c * 3..c * 3 + 3], &[0.0, 127.5, 255.0]);
        }
    }

    /// The same scene as an ENVI raster with its map as a PNG, or as a MAT cube with the map in
    /// another MAT-file, loads as from one MAT-file; wavelengths pick a true-colour composite.
    #[test]
    fn envi_scenes_and_separate_map_files_load_the_same_scene() {
        let dir = std::env::temp_dir().join(format!("oddity-scene-envi-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mat_scene = scene_of(
            mat::parse(&file(false)).unwrap(),
            &SceneVariables::default(),
            true,
        )
        .unwrap();
        let values: Vec<f64> = mat_scene.pixels.iter().map(|&v| v as f64).collect();
        let wavelengths = "wavelength = {460, 640}\n";
        let header = envi::tests::write(
            &dir,
            "cube",
            (2, 3, 2),
            &values,
            "bil",
            12,
            true,
            wavelengths,
        );
        let png = dir.join("map.png");
        image::GrayImage::from_fn(3, 2, |x, y| {
            image::Luma([mat_scene.map[(y * 3 + x) as usize] * 255])
        })
        .save(&png)
        .unwrap();
        let with_map = |map_file: &Path| SceneVariables {
            map_file: Some(map_file.to_path_buf()),
            ..SceneVariables::default()
        };
        let envi_scene = load(&header, &with_map(&png)).unwrap();
        assert_eq!(envi_scene.pixels, mat_scene.pixels);
        assert_eq!(envi_scene.map, mat_scene.map);
        assert_eq!(envi_scene.composite_bands(), [1, 0, 0]);
        let err = format!(
            "{:#}",
            load(&header, &SceneVariables::default()).unwrap_err()
        );
        assert!(
            err.contains("--map-file") && err.contains("cube.hdr"),
            "{err}"
        );

        // A MAT cube without a map, its map in another MAT-file beside a decoy, named by
        // --map-var (which then names the map file's variable).
        let map_mat = dir.join("map.mat");
        let map_column_major: Vec<u8> =
            (0..6).map(|i| mat_scene.map[(i % 2) * 3 + i / 2]).collect();
        std::fs::write(
            &map_mat,
            mat::tests::Writer::new(false)
                .variable("decoy", &[2, 3], 9, false, 2, &[1; 6])
                .variable("truth", &[2, 3], 9, false, 2, &map_column_major)
                .finish(),
        )
        .unwrap();
        let cube_values = mat::parse(&file(false)).unwrap().remove(1);
        assert_eq!(cube_values.name, "data");
        let cube_bytes: Vec<u8> = cube_values
            .values
            .unwrap()
            .iter()
            .flat_map(|&v| (v as u16).to_le_bytes())
            .collect();
        let cube_mat = dir.join("cube.mat");
        std::fs::write(
            &cube_mat,
            mat::tests::Writer::new(true)
                .variable("data", &[2, 3, 2], 6, false, 4, &cube_bytes)
                .finish(),
        )
        .unwrap();
        let named = SceneVariables {
            map: Some("truth".into()),
            ..with_map(&map_mat)
        };
        let from_two = load(&cube_mat, &named).unwrap();
        assert_eq!(from_two.pixels, mat_scene.pixels);
        assert_eq!(from_two.map, mat_scene.map);
        let err = format!("{:#}", load(&cube_mat, &with_map(&map_mat)).unwrap_err());
        assert!(
            err.contains("decoy, truth") && err.contains("--map-var"),
            "{err}"
        );
        // Without any map, the cube alone trains (every pixel background) but is not scored.
        assert!(load(&cube_mat, &SceneVariables::default()).is_err());
        let training = load_training(&cube_mat, &SceneVariables::default()).unwrap();
        assert_eq!(training.map, vec![0; 6]);
        let small = dir.join("small.png");
        image::GrayImage::new(2, 2).save(&small).unwrap();
        let err = format!("{:#}", load(&header, &with_map(&small)).unwrap_err());
        assert!(
            err.contains("small.png") && err.contains("2×2") && err.contains("2×3"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn ambiguity_and_wrong_names_are_errors_naming_the_variables() {
        let vars = mat::parse(&file(true)).unwrap();
        let err = format!(
            "{:#}",
            scene_of(vars.clone(), &SceneVariables::default(), true).unwrap_err()
        );
        assert!(
            err.contains("data, data2") && err.contains("--cube-var"),
            "{err}"
        );
        let named = SceneVariables {
            cube: Some("data2".into()),
            ..SceneVariables::default()
        };
        assert!(scene_of(vars.clone(), &named, true).is_ok());
        let missing = SceneVariables {
            cube: Some("hsi".into()),
            ..SceneVariables::default()
        };
        let err = format!("{:#}", scene_of(vars.clone(), &missing, true).unwrap_err());
        assert!(
            err.contains("\"hsi\"") && err.contains("map (double [2, 3])"),
            "{err}"
        );
        let wrong_map = SceneVariables {
            cube: Some("data".into()),
            map: Some("data2".into()),
            ..SceneVariables::default()
        };
        let err = format!("{:#}", scene_of(vars, &wrong_map, true).unwrap_err());
        assert!(
            err.contains("[2, 3, 2]") && err.contains("must have 2"),
            "{err}"
        );
        let flat_cube = SceneVariables {
            cube: Some("map".into()),
            ..SceneVariables::default()
        };
        let err = format!(
            "{:#}",
            scene_of(mat::parse(&file(false)).unwrap(), &flat_cube, true).unwrap_err()
        );
        assert!(err.contains("the cube must have 3"), "{err}");
    }

    #[test]
    fn a_nan_in_the_cube_is_an_error_naming_its_place() {
        let nan = f64::NAN.to_le_bytes();
        let mut cube = vec![0u8; 8 * 8];
        cube[8 * 5..8 * 6].copy_from_slice(&nan);
        let bytes = Writer::new(false)
            .variable("data", &[2, 2, 2], 6, false, 9, &cube)
            .variable("map", &[2, 2], 9, false, 2, &[0, 0, 0, 1])
            .finish();
        let err = format!(
            "{:#}",
            scene_of(
                mat::parse(&bytes).unwrap(),
                &SceneVariables::default(),
                true
            )
            .unwrap_err()
        );
        // Linear index 5 = r 1 + 2 * (c 0) + 4 * (b 1).
        assert!(err.contains("row 1, column 0, band 1"), "{err}");
    }
}
