//! Serving helpers: two small real runs, a running `oddity serve`, digits as PNG files.

use super::{fixture, spec, train_ok};
use oddity::data::Samples;
use oddity::data::source::{self, DatasetKind};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `oddity serve`, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Send it SIGTERM and wait (a minute at most) for it to exit.
    #[cfg(unix)]
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the server did not stop within a minute of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Start `oddity serve RUNS… --port 0 EXTRA…` and read the address it prints.
pub fn serve(runs: &[&Path], extra: &[&str]) -> Served {
    let mut child = Command::new(super::oddity_bin())
        .arg("serve")
        .args(runs)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(at) = line.find("http://") else {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("the server did not start: {line}{err}");
    };
    Served {
        url: line[at..].trim().to_string(),
        child,
    }
}

/// A grey image of `side`×`side` values 0–255 as PNG bytes.
pub fn png_of(values: &[f32], side: u32) -> Vec<u8> {
    let pixels: Vec<u8> = values.iter().map(|&v| v as u8).collect();
    grey_png(image::GrayImage::from_raw(side, side, pixels).unwrap())
}

/// A grey image as PNG bytes.
pub fn grey_png(img: image::GrayImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    bytes
}

/// Every sample of a data set's first split, as raw samples.
pub fn raw_samples(kind: DatasetKind, path: PathBuf, split_test: bool, count: usize) -> Samples {
    let source = source::load(&spec(kind, path)).unwrap();
    let set = if split_test {
        source.test.unwrap()
    } else {
        source.train
    };
    let mut samples = Samples::empty(set.shape);
    for i in 0..count.min(set.len()) {
        samples.push_from(&set, 0, i, 0);
    }
    samples
}

/// Train the two served runs into `dir`: an autoencoder on the breastw table (10 epochs) and
/// one on MNIST digit 1 (2 epochs); their folders `breastw` and `mnist-1`.
pub fn train_runs(dir: &Path) -> (PathBuf, PathBuf) {
    let (table, images) = (dir.join("breastw"), dir.join("mnist-1"));
    let breastw = fixture("adbench/4_breastw.npz");
    train_ok(
        "autoencoder",
        ("adbench", &breastw),
        ("tabular", None),
        10,
        &table,
        &[],
    );
    let mnist = fixture("mnist");
    train_ok(
        "autoencoder",
        ("mnist", &mnist),
        ("one-class", Some("1")),
        2,
        &images,
        &[],
    );
    (table, images)
}
