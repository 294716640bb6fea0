//! Every parser against mutated valid files and random bytes: no panic, and no allocation
//! beyond a bound, whatever the input. Each property runs `PROPTEST_CASES` generated inputs
//! (default below) from a fixed seed; a longer soak is `PROPTEST_CASES=100000
//! PROPTEST_RNG_SEED=N cargo test --release --test robustness` with seeds of your choice. The cases found by hand are regression tests in `tests/cli.rs` and the
//! modules' own tests; `docs/reliability.md` lists them.

mod common;

use common::*;
use oddity::data::{adbench, cifar, csv_table, idx, kdd};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;

/// Counts the bytes each thread has allocated and the peak, so a property can bound the
/// memory one parse takes.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + layout.size() as isize;
            live.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|live| live.set(live.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Run `f` and return how many bytes it had allocated at its peak, beyond what was live before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(|p| p.get()) - base;
    (out, peak.max(0) as usize)
}

/// The allocation bound for parsing `input_len` bytes: a parser may hold a few converted copies
/// of its input (bytes to f32 is 4×, gzip and zip members expand), never more.
fn bound(input_len: usize) -> usize {
    (64 << 20) + 64 * input_len
}

/// Generated inputs per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 4000;

/// The inputs CI generates: the same every run (seed below), so a red run is reproducible;
/// a soak explores others with `PROPTEST_RNG_SEED=N`.
const SEED: u64 = 0x0dd1_7e57;

fn proptest_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let defaults = ProptestConfig::default();
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => defaults.rng_seed,
        None => proptest::test_runner::RngSeed::Fixed(SEED),
    };
    ProptestConfig {
        cases,
        rng_seed,
        failure_persistence: None,
        ..defaults
    }
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { at: usize, len: usize },
    Remove { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Set { at, byte }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Remove { at, len }),
    ]
}

/// `seed` with up to eight edits applied.
fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for e in edits {
        let n = v.len().max(1);
        match e {
            Edit::Flip { at, bit } if !v.is_empty() => v[at % n] ^= 1 << bit,
            Edit::Set { at, byte } if !v.is_empty() => v[at % n] = *byte,
            Edit::Truncate { at } => v.truncate(at % n),
            Edit::Insert { at, bytes } => {
                let at = at % (v.len() + 1);
                v.splice(at..at, bytes.iter().copied());
            }
            Edit::Duplicate { at, len } if !v.is_empty() => {
                let at = at % v.len();
                let end = (at + len).min(v.len());
                let chunk = v[at..end].to_vec();
                v.splice(at..at, chunk);
            }
            Edit::Remove { at, len } if !v.is_empty() => {
                let at = at % v.len();
                let end = (at + len).min(v.len());
                v.drain(at..end);
            }
            _ => {}
        }
    }
    v
}

/// Mutated copies of `seed` and plain random bytes, in equal measure.
fn inputs(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(edit(), 1..8).prop_map(move |edits| mutate(&seed, &edits)),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
}

fn idx_seed() -> Vec<u8> {
    idx::encode(&idx::IdxArray {
        dims: vec![3, 4, 5],
        data: (0..60).map(|i| i as u8).collect(),
    })
}

fn cifar_seed() -> Vec<u8> {
    let mut v = Vec::new();
    for r in 0..2u8 {
        v.push(r);
        v.extend((0..3072).map(|i| (i % 251) as u8));
    }
    v
}

fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

fn npy_seed() -> Vec<u8> {
    let body: Vec<u8> = (0..6).flat_map(|i| (i as f64).to_le_bytes()).collect();
    npy("<f8", "3, 2", &body)
}

fn npz_seed(compressed: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(if compressed {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    });
    zip.start_file("X.npy", options).unwrap();
    zip.write_all(&npy_seed()).unwrap();
    zip.start_file("y.npy", options).unwrap();
    let y: Vec<u8> = [0i64, 1, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    zip.write_all(&npy("<i8", "3,", &y)).unwrap();
    zip.finish().unwrap().into_inner()
}

fn kdd_seed() -> Vec<u8> {
    let text = oddity::io::read_maybe_gz(&fixture("kddcup99/kddcup.data_10_percent.gz")).unwrap();
    text.split(|&b| b == b'\n')
        .take(6)
        .collect::<Vec<_>>()
        .join(&b'\n')
}

fn png_seed() -> Vec<u8> {
    let img = image::GrayImage::from_fn(6, 6, |x, y| image::Luma([(x * 40 + y) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Parse with `f` and check the allocation bound; the result may be an error, never a panic.
fn check_parse<T>(input: &[u8], f: impl FnOnce(&[u8]) -> oddity::Result<T>) {
    let (_result, peak) = peak_of(|| f(input));
    assert!(
        peak <= bound(input.len()),
        "allocated {peak} bytes for {} input bytes",
        input.len()
    );
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn idx_files(input in inputs(idx_seed())) {
        check_parse(&input, |b| {
            let a = idx::parse(b, "images")?;
            // As many labels as the input could hold (a header may claim billions of images
            // of 0 pixels; the labels file would then have to hold as many bytes).
            let n = a.dims[0].min(b.len());
            let labels = idx::IdxArray { dims: vec![n], data: vec![1; n] };
            idx::images_with_labels(a, labels, "images", "labels")
        });
    }

    #[test]
    fn gzip_streams(input in inputs(flate_seed())) {
        check_parse(&input, |b| oddity::io::gunzip_if_needed(b.to_vec()));
    }

    #[test]
    fn cifar_batches(input in inputs(cifar_seed())) {
        check_parse(&input, |b| {
            let mut set = oddity::data::LabelledSet {
                layout: None,
                masks: None,
                values: Vec::new(),
                shape: oddity::data::SampleShape::Image { channels: 3, height: 32, width: 32 },
                classes: Vec::new(),
                class_names: (0..10).map(|c| c.to_string()).collect(),
            };
            cifar::parse_batch(b, "batch", &mut set)
        });
    }

    #[test]
    fn npy_arrays(input in inputs(npy_seed())) {
        check_parse(&input, |b| adbench::parse_npy(b, "X.npy"));
    }

    #[test]
    fn npz_archives(input in inputs(npz_seed(false)), deflated in inputs(npz_seed(true))) {
        check_parse(&input, |b| adbench::parse(b, "t.npz"));
        check_parse(&deflated, |b| adbench::parse(b, "t.npz"));
    }

    #[test]
    fn csv_tables(input in inputs(b"a,b,label\n1,2,0\n3,4.5,1\n-1e3,7,0\n".to_vec())) {
        check_parse(&input, |b| csv_table::parse(b, "label", "t.csv"));
    }

    #[test]
    fn kdd_records(input in inputs(kdd_seed())) {
        check_parse(&input, |b| kdd::parse(b, "kdd.csv"));
    }

    #[test]
    fn model_settings_files(input in inputs(br#"{"latent_dim": 8, "hidden": [16, 4], "learning_rate": 0.001, "epochs": 3}"#.to_vec())) {
        let dir = scratch("settings");
        let file = dir.join("settings.json");
        std::fs::write(&file, &input).unwrap();
        check_parse(&input, |_| oddity::models::ModelConfig::from_settings_file("autoencoder", Some(&file)));
    }
}

fn flate_seed() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&idx_seed()).unwrap();
    e.finish().unwrap()
}

/// A folder for this test thread's files, emptied first and removed when the guard drops.
fn scratch(tag: &str) -> Scratch {
    let id =
        format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_alphanumeric(), "");
    Scratch::fresh(
        std::env::temp_dir().join(format!("oddity-robust-{tag}-{}-{id}", std::process::id())),
    )
}

/// Image folders and MVTec categories with one mutated image among valid ones.
mod folders {
    use super::*;
    use oddity::data::source::{self, DatasetKind};

    fn mvtec(root: &Path, bad: &[u8]) {
        for (dir, name) in [
            ("train/good", "0.png"),
            ("test/good", "0.png"),
            ("test/crack", "0.png"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join(name), png_seed()).unwrap();
        }
        std::fs::write(root.join("test/crack/1.png"), bad).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: proptest_config().cases / 4, ..proptest_config() })]

        #[test]
        fn image_files(input in inputs(png_seed()), decode_size in prop::option::of(1u32..40)) {
            let root = scratch("mvtec");
            mvtec(&root, &input);
            check_parse(&input, |_| {
                let mut s = spec(DatasetKind::Mvtec, root.clone());
                s.image_size = decode_size;
                source::load(&s)
            });
            check_parse(&input, |_| source::load(&spec(DatasetKind::ImageFolder, root.join("test"))));
        }
    }
}

/// A saved run with one of its files mutated: loading and scoring it is an error or a
/// result, never a panic.
mod run_folders {
    use super::*;
    use oddity::data::protocol::Protocol;
    use oddity::data::source::DatasetKind;
    use oddity::run::{Checkpoint, Run};
    use std::sync::OnceLock;

    /// A small autoencoder run on the shipped breast-cancer table, saved once: its files'
    /// names and bytes (kept in memory, so that no folder outlives the tests).
    fn saved_run() -> &'static [(std::ffi::OsString, Vec<u8>)] {
        static RUN: OnceLock<Vec<(std::ffi::OsString, Vec<u8>)>> = OnceLock::new();
        RUN.get_or_init(|| {
            let mut c = config(
                "autoencoder",
                spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz")),
                Protocol::Tabular,
                0,
                1,
            );
            c.split.max_train = Some(64);
            let (mut trained, _) = train(c);
            let folder = scratch("saved");
            let dir = folder.join("run");
            trained.save(&dir).unwrap();
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|f| {
                    let f = f.unwrap();
                    (f.file_name(), std::fs::read(f.path()).unwrap())
                })
                .collect();
            files.sort();
            files
        })
    }

    /// A copy of [`saved_run`] in `folder`/run.
    fn copy_of_saved_run(folder: &Path) -> std::path::PathBuf {
        let dir = folder.join("run");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in saved_run() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        dir
    }

    fn load_and_score(dir: &Path) -> oddity::Result<()> {
        let run = Run::load(dir)?;
        let device = oddity::device::parse("cpu")?;
        let detector = run.detector(Checkpoint::Last, &device)?;
        let n = run.preprocessor.input.len();
        let mut samples = oddity::data::Samples::empty(run.preprocessor.input);
        samples.values = vec![0.5; n * 3];
        samples.labels = vec![0; 3];
        samples.origin = vec![oddity::data::Origin { split: 0, index: 0 }; 3];
        oddity::run::score_raw(&run, detector.as_ref(), &samples)?;
        Ok(())
    }

    const FILES: [&str; 5] = [
        "run.json",
        "preprocess.json",
        "thresholds.json",
        "train-log.json",
        "weights-last.safetensors",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: proptest_config().cases / 4, ..proptest_config() })]

        #[test]
        fn mutated_run_files(which in 0..FILES.len(), edits in prop::collection::vec(edit(), 1..8)) {
            let folder = scratch("run");
            let dir = copy_of_saved_run(&folder);
            let target = dir.join(FILES[which]);
            let bytes = mutate(&std::fs::read(&target).unwrap(), &edits);
            std::fs::write(&target, &bytes).unwrap();
            check_parse(&bytes, |_| load_and_score(&dir));
        }

        #[test]
        fn mutated_weights_with_a_matching_checksum(edits in prop::collection::vec(edit(), 1..8)) {
            // The checksum is rewritten to match, so the safetensors reader itself is tried.
            let folder = scratch("weights");
            let dir = copy_of_saved_run(&folder);
            let weights = dir.join("weights-last.safetensors");
            let old = std::fs::read(&weights).unwrap();
            let bytes = mutate(&old, &edits);
            std::fs::write(&weights, &bytes).unwrap();
            let run_json = std::fs::read_to_string(dir.join("run.json")).unwrap();
            let run_json = run_json.replace(
                &oddity::run::sha256_hex(&old),
                &oddity::run::sha256_hex(&bytes),
            );
            std::fs::write(dir.join("run.json"), run_json).unwrap();
            check_parse(&bytes, |_| load_and_score(&dir));
        }
    }
}
