//! Evaluation protocols: which samples train a detector, which validate it (normal only) and
//! which test it. Validation always comes from the training normals; the test split is never
//! used to pick a model, an epoch, a threshold or a normalisation.

use super::{LabelledSet, Samples, source::DataSource};
use anyhow::{bail, ensure};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A named protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Protocol {
    /// Class `class` is normal, every other class is an anomaly (Deep SVDD, ALAD-CIFAR, GEOM…):
    /// train on the training split's `class`, test on the whole test split.
    OneClass {
        /// The normal class (name, or index).
        class: String,
    },
    /// Class `class` is the anomaly, every other class is normal (GANomaly, EGBAD-MNIST, ADAE):
    /// train on the training split minus `class`; test on the normal test images plus every
    /// `class` image of both splits (GANomaly's default protocol).
    LeaveOneOut {
        /// The anomalous class (name, or index).
        class: String,
    },
    /// KDDCUP99 as EGBAD/ALAD use it (the DAGMM convention): `normal.` traffic is the anomaly;
    /// rows shuffled and split 50/50; train on the non-`normal.` rows of the first half; test on
    /// the non-`normal.` rows of the second half plus `normal.` rows drawn so that they are 20 %
    /// of the test set.
    Kdd99,
    /// KDDCUP99 as GOAD's code splits it (`KDD99_train_valid_data`), DAGMM's labels: `normal.`
    /// traffic is the anomaly; the attack rows shuffled and halved, one half trains, the other
    /// tests with every `normal.` row (on the 10 % file, a third of the test set).
    Kdd99Goad,
    /// KDDCUP99 reversed, as GOAD's code (`KDD99Rev_train_valid_data`): the attacks are the
    /// anomaly; the `normal.` rows shuffled and halved, one half trains, the other tests with
    /// attack rows drawn at random, a quarter as many as all `normal.` rows (the code's 24 319
    /// on the 10 % file).
    Kdd99Rev,
    /// ADBench tables (labels 0 normal / 1 anomaly): train on a seeded 60 % of the normals, test
    /// on the other 40 % plus every anomaly.
    Tabular,
    /// RSRAE's unsupervised, transductive protocol (Lai et al., ICLR 2020): one set of the test
    /// split's images of class `class` (the inliers, `n` of them) plus `⌊c·n⌋` images of the
    /// other classes drawn at random (seeded), `c` = [`SplitOptions::contamination`]; the model
    /// trains on that whole set, labels unseen, and scores the same set. A seeded share of it
    /// (`validation_fraction`) also serves as validation data: unlabelled and contaminated
    /// like the rest.
    Contaminated {
        /// The inlier class (name, or index).
        class: String,
    },
    /// Hyperspectral anomaly detection as the field evaluates it, unsupervised and per scene:
    /// every pixel of the scene trains, labels unseen, and every pixel is scored against the
    /// ground-truth map (class `anomaly`). With a training scene (`--train-scene`) that scene's
    /// pixels train and the other scene's are scored. The training scene, whole, also
    /// validates (unlabelled and contaminated like the rest): a detector that scores a pixel
    /// against its neighbours (local RX) needs every pixel there.
    Scene,
    /// PyOD's `fit(X)`: every sample given trains (a seeded share held out for validation),
    /// labels unknown, no test split; for arrays handed over by a program.
    Fit,
}

impl Protocol {
    /// Parse `one-class`, `leave-one-out`, `kdd99` or `tabular`, with the class for the first two.
    pub fn parse(name: &str, class: Option<&str>) -> crate::Result<Self> {
        let need = |p: &str| -> crate::Result<String> {
            class
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("protocol {p} needs a class (--class)"))
        };
        let none = |p: &str| -> crate::Result<()> {
            match class {
                Some(c) => bail!(
                    "--class {c} does not apply: the {p} protocol fixes which rows are anomalies"
                ),
                None => Ok(()),
            }
        };
        Ok(match name {
            "one-class" => Protocol::OneClass { class: need(name)? },
            "contaminated" => Protocol::Contaminated { class: need(name)? },
            "leave-one-out" => Protocol::LeaveOneOut { class: need(name)? },
            "kdd99" => none(name).map(|_| Protocol::Kdd99)?,
            "kdd99-goad" => none(name).map(|_| Protocol::Kdd99Goad)?,
            "kdd99-rev" => none(name).map(|_| Protocol::Kdd99Rev)?,
            "tabular" => none(name).map(|_| Protocol::Tabular)?,
            "scene" => none(name).map(|_| Protocol::Scene)?,
            other => {
                bail!(
                    "unknown protocol {other:?}; use one-class, leave-one-out, contaminated, \
                     kdd99, kdd99-goad, kdd99-rev, tabular or scene"
                )
            }
        })
    }

    /// Whether sample of class index `class` is an anomaly under this protocol, for data sets
    /// scored outside the protocol's own splits (`oddity score`).
    pub fn label_of(&self, set: &LabelledSet, class: u32) -> Option<u8> {
        let name = &set.class_names[class as usize];
        match self {
            Protocol::OneClass { class: k } | Protocol::Contaminated { class: k } => {
                Some((resolve(set, k).ok()? != class) as u8)
            }
            Protocol::LeaveOneOut { class: k } => Some((resolve(set, k).ok()? == class) as u8),
            Protocol::Kdd99 | Protocol::Kdd99Goad => Some((name == "normal.") as u8),
            Protocol::Kdd99Rev => Some((name != "normal.") as u8),
            Protocol::Tabular => binary_class(name).ok(),
            Protocol::Scene => Some((name == SCENE_ANOMALY) as u8),
            Protocol::Fit => None,
        }
    }

    /// Refuse a set with a class this protocol cannot label, before it is scored outside the
    /// protocol's own splits (`oddity score`): a table's labels under the tabular protocol are
    /// 0 / 1 (or normal / anomaly), as in training; the others label the classes they know
    /// and leave the rest blank.
    pub fn check_labels(&self, set: &LabelledSet) -> crate::Result<()> {
        match self {
            Protocol::Tabular => binary_classes(set).map(|_| ()),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protocol::OneClass { class } => write!(f, "one-class (normal class {class})"),
            Protocol::LeaveOneOut { class } => write!(f, "leave-one-out (anomaly class {class})"),
            Protocol::Contaminated { class } => {
                write!(
                    f,
                    "contaminated (inlier class {class}; trains on the set it scores)"
                )
            }
            Protocol::Kdd99 => write!(f, "kdd99 (normal. traffic is the anomaly)"),
            Protocol::Kdd99Goad => write!(
                f,
                "kdd99-goad (normal. traffic is the anomaly; all of it tests)"
            ),
            Protocol::Kdd99Rev => write!(f, "kdd99-rev (attacks are the anomaly)"),
            Protocol::Tabular => write!(f, "tabular (60 % of normals train)"),
            Protocol::Scene => write!(f, "scene (every pixel trains, unlabelled, and is scored)"),
            Protocol::Fit => write!(f, "fit (every sample given trains; no test split)"),
        }
    }
}

/// Sizes and seeds of a split.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitOptions {
    /// Seed of every shuffle.
    pub seed: u64,
    /// Fraction of the training normals held out for validation (0.1).
    pub validation_fraction: f64,
    /// Keep at most this many training samples (a seeded subset), for reduced budgets; the
    /// validation set shrinks with it to `validation_fraction` of that number.
    pub max_train: Option<usize>,
    /// Keep at most this many test samples (a seeded subset), for reduced budgets.
    pub max_test: Option<usize>,
    /// Subsample the test anomalies (seeded) so that they make up this fraction of the test
    /// set, all test normals kept: ALOCC's 10–50 % contamination protocol.
    #[serde(default)]
    pub test_anomaly_fraction: Option<f64>,
    /// Weak supervision: give training a seeded set of labelled anomalies, this many or making
    /// up this share of the training samples, drawn from anomalies the test set never holds
    /// (the data set's training split; where every anomaly would be test data, as in Magnetic
    /// Tile, they are taken out of the test set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled_anomalies: Option<LabelledAnomalies>,
    /// The contaminated protocol's outliers per inlier, `c` in (0, 1] (RSRAE's 0.1–0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contamination: Option<f64>,
}

/// How many labelled anomalies weak supervision gives training (`--labelled-anomalies`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LabelledAnomalies {
    /// Exactly this many, at least one (`--labelled-anomalies 10`: the defects a user has).
    Count(usize),
    /// As many as make up this share of the training samples, within (0, 1) (`0.02` or `2%`:
    /// Deep SAD's γ_l); at least one.
    Share(f64),
}

impl LabelledAnomalies {
    /// A whole number is a count, a decimal or a percentage a share: `10`, `0.02`, `2%`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let text = text.trim();
        let invalid = || {
            anyhow::anyhow!(
                "--labelled-anomalies takes a count (10) or a share of the training samples \
                 (0.02 or 2%), not {text:?}"
            )
        };
        let labelled = match text.strip_suffix('%') {
            Some(percent) => LabelledAnomalies::Share(
                percent.trim().parse::<f64>().map_err(|_| invalid())? / 100.0,
            ),
            None => match text.parse::<usize>() {
                Ok(count) => LabelledAnomalies::Count(count),
                Err(_) => LabelledAnomalies::Share(text.parse::<f64>().map_err(|_| invalid())?),
            },
        };
        labelled.check()?;
        Ok(labelled)
    }

    /// A count of at least one, a share within (0, 1).
    pub fn check(self) -> crate::Result<()> {
        match self {
            LabelledAnomalies::Count(n) => ensure!(
                n >= 1,
                "--labelled-anomalies must be at least 1 anomaly (or a share such as 0.02), got 0"
            ),
            LabelledAnomalies::Share(f) => ensure!(
                f.is_finite() && f > 0.0 && f < 1.0,
                "--labelled-anomalies as a share must be between 0 and 1 (0.02 or 2%; a count \
                 is written without a decimal point: 10), got {f}"
            ),
        }
        Ok(())
    }

    /// How many beside `train_normals` training normals: a share `f` of the training set
    /// (normals and these anomalies) is `f / (1 − f)` times the normals, at least one.
    pub fn wanted(self, train_normals: usize) -> usize {
        match self {
            LabelledAnomalies::Count(n) => n,
            LabelledAnomalies::Share(f) => {
                ((f / (1.0 - f) * train_normals as f64).round() as usize).max(1)
            }
        }
    }
}

impl std::fmt::Display for LabelledAnomalies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelledAnomalies::Count(n) => write!(f, "{n}"),
            LabelledAnomalies::Share(share) => write!(f, "{share}"),
        }
    }
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            seed: 0,
            validation_fraction: 0.1,
            max_train: None,
            max_test: None,
            test_anomaly_fraction: None,
            labelled_anomalies: None,
            contamination: None,
        }
    }
}

/// Training (normal only), validation (normal only) and test samples.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training normals.
    pub train: Samples,
    /// Validation normals, held out of the training normals.
    pub valid: Samples,
    /// Test samples with their labels.
    pub test: Samples,
    /// Labelled anomalies for weakly supervised training ([`SplitOptions::labelled_anomalies`]),
    /// never in the test set.
    pub labelled: Option<Samples>,
    /// The data set's class names (what each sample's class index means).
    pub class_names: Vec<String>,
}

/// Class index of `class`: its name; where classes are named by numbers (the labels 1, 2, 5 of
/// a table, folders `00` … `09`), the one class whose number equals it; elsewhere its position
/// among the classes. A number is never a position where it could also be a label.
pub fn resolve(set: &LabelledSet, class: &str) -> crate::Result<u32> {
    if let Some(i) = set.class_index(class) {
        return Ok(i);
    }
    let number_of = |text: &str| text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let numbered: Vec<(usize, f64)> = set
        .class_names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| Some((i, number_of(name)?)))
        .collect();
    if numbered.is_empty() {
        if let Ok(i) = class.parse::<u32>()
            && (i as usize) < set.class_names.len()
        {
            return Ok(i);
        }
    } else if let Some(value) = number_of(class) {
        let same: Vec<usize> = numbered
            .iter()
            .filter(|&&(_, v)| v == value)
            .map(|&(i, _)| i)
            .collect();
        match same[..] {
            [i] => return Ok(i as u32),
            [] => {}
            _ => bail!(
                "class {class:?} could be any of {:?}; give the name as written",
                same.iter()
                    .map(|&i| set.class_names[i].as_str())
                    .collect::<Vec<_>>()
            ),
        }
    }
    bail!(
        "unknown class {class:?}; the data set's classes are {:?}{}",
        set.class_names,
        if numbered.is_empty() {
            ""
        } else {
            " (a number names a class here, not its position, as classes are named by numbers)"
        }
    )
}

/// The binary label of a class name under the tabular protocol: `normal` / `anomaly`, or a
/// number equal to 0 or 1 (`0`, `1`, `0.0`, `1.0`, as scikit-learn reads them).
pub fn binary_class(name: &str) -> crate::Result<u8> {
    match name {
        "normal" => Ok(0),
        "anomaly" => Ok(1),
        _ => super::binary_label(name),
    }
}

/// The binary label of each class of `set`; any other class is an error naming it.
fn binary_classes(set: &LabelledSet) -> crate::Result<Vec<u8>> {
    set.class_names
        .iter()
        .map(|name| {
            binary_class(name).map_err(|e| {
                anyhow::anyhow!(
                    "the tabular protocol needs binary labels, 0 normal and 1 anomaly (or normal / \
                     anomaly): {e}; the labels present are {:?}{}",
                    &set.class_names[..set.class_names.len().min(10)],
                    match set.class_names.len().saturating_sub(10) {
                        0 => String::new(),
                        more => format!(" and {more} more (is the label column the right one?)"),
                    }
                )
            })
        })
        .collect()
}

/// A sample of a data set: (split id, index in that split).
type Item = (u8, usize);

fn shuffled(n: usize, seed: u64, stream: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut rng);
    v
}

/// `(split id, indices)` of the samples acting as training and test pools: the data set's own
/// splits when it has two, else a seeded 80/20 split of its only one.
fn pools(source: &DataSource, seed: u64) -> (Vec<Item>, Vec<Item>) {
    match &source.test {
        Some(test) => (
            (0..source.train.len()).map(|i| (0, i)).collect(),
            (0..test.len()).map(|i| (1, i)).collect(),
        ),
        None => {
            let order = shuffled(source.train.len(), seed, 11);
            let cut = (order.len() * 4) / 5;
            let mut train: Vec<Item> = order[..cut].iter().map(|&i| (0, i)).collect();
            let mut test: Vec<Item> = order[cut..].iter().map(|&i| (0, i)).collect();
            train.sort_unstable();
            test.sort_unstable();
            (train, test)
        }
    }
}

/// A test candidate: the sample's split, its index there and its label (1 = anomaly).
type TestItem = (u8, usize, u8);

/// What a protocol draws from a data set before the shared steps: the normal samples to train
/// and validate on, and the labelled test samples.
struct Pools {
    normals: Vec<Item>,
    test: Vec<TestItem>,
    /// Anomalies neither training nor testing: where labelled anomalies come from first.
    spare_anomalies: Vec<Item>,
}

/// The set of split `s` (0 = the data set's training file or only file, 1 = its test file).
fn set_of(source: &DataSource, s: u8) -> &LabelledSet {
    match (s, &source.test) {
        (1, Some(test)) => test,
        _ => &source.train,
    }
}

/// The class of a sample.
fn class_of(source: &DataSource, (s, i): Item) -> u32 {
    set_of(source, s).classes[i]
}

/// One-class (class `k` normal, the rest anomalous) and leave-one-out (class `k` anomalous):
/// the data set's own train/test split, or an 80/20 one. Leave-one-out tests on every sample of
/// the anomalous class, from both splits, as GANomaly does; so does one-class on a data set
/// whose every anomaly is test data (Magnetic Tile).
fn class_pools(
    source: &DataSource,
    class: &str,
    one_class: bool,
    seed: u64,
) -> crate::Result<Pools> {
    let k = resolve(&source.train, class)?;
    let is_anomaly = |c: u32| if one_class { c != k } else { c == k };
    let (train_pool, test_pool) = pools(source, seed);
    let mut normals = Vec::new();
    let mut test = Vec::new();
    let mut spare_anomalies = Vec::new();
    for item in train_pool {
        if !is_anomaly(class_of(source, item)) {
            normals.push(item);
        } else if !one_class || source.test_every_anomaly {
            test.push((item.0, item.1, 1));
        } else {
            spare_anomalies.push(item);
        }
    }
    for item in test_pool {
        test.push((item.0, item.1, is_anomaly(class_of(source, item)) as u8));
    }
    Ok(Pools {
        normals,
        test,
        spare_anomalies,
    })
}

/// KDDCUP99 as EGBAD/ALAD: one file shuffled and halved; the normals of the first half train;
/// the second half tests with its `normal.` rows (the minority, the anomalies) cut to 20 %.
fn kdd99_pools(source: &DataSource, seed: u64) -> crate::Result<Pools> {
    ensure!(
        source.test.is_none(),
        "the kdd99 protocol splits one file (kddcup.data_10_percent) itself; give that file alone"
    );
    let set = &source.train;
    let Some(anomaly) = set.class_index("normal.") else {
        bail!("the kdd99 protocol needs KDDCUP99 data with `normal.` rows; none found");
    };
    let order = shuffled(set.len(), seed, 21);
    let half = order.len() / 2;
    let normals = order[..half]
        .iter()
        .filter(|&&i| set.classes[i] != anomaly)
        .map(|&i| (0, i))
        .collect();
    let (outliers, inliers): (Vec<usize>, Vec<usize>) = order[half..]
        .iter()
        .partition(|&&i| set.classes[i] == anomaly);
    let wanted = inliers.len() * 20 / 80;
    let mut test: Vec<TestItem> = inliers.iter().map(|&i| (0, i, 0)).collect();
    test.extend(outliers.iter().take(wanted).map(|&i| (0, i, 1)));
    Ok(Pools {
        normals,
        test,
        spare_anomalies: Vec::new(),
    })
}

/// KDDCUP99 as GOAD's code splits it: the normal rows (the attacks; `normal.` traffic when
/// `reversed`) shuffled and halved, the first half trains, the second tests with every
/// `normal.` row (`reversed`: with attack rows drawn at random, a quarter as many as all
/// `normal.` rows).
fn kdd99_goad_pools(source: &DataSource, seed: u64, reversed: bool) -> crate::Result<Pools> {
    let name = if reversed { "kdd99-rev" } else { "kdd99-goad" };
    ensure!(
        source.test.is_none(),
        "the {name} protocol splits one file (kddcup.data_10_percent) itself; give that file alone"
    );
    let set = &source.train;
    let Some(traffic) = set.class_index("normal.") else {
        bail!("the {name} protocol needs KDDCUP99 data with `normal.` rows; none found");
    };
    let (traffic_rows, attack_rows): (Vec<usize>, Vec<usize>) =
        (0..set.len()).partition(|&i| set.classes[i] == traffic);
    let (normal_rows, anomaly_rows) = if reversed {
        (traffic_rows, attack_rows)
    } else {
        (attack_rows, traffic_rows)
    };
    let order = shuffled(normal_rows.len(), seed, 23);
    let half = normal_rows.len() / 2;
    let normals = order[..half].iter().map(|&i| (0, normal_rows[i])).collect();
    let mut test: Vec<TestItem> = order[half..]
        .iter()
        .map(|&i| (0, normal_rows[i], 0))
        .collect();
    if reversed {
        let wanted = normal_rows.len() / 4;
        ensure!(
            anomaly_rows.len() >= wanted,
            "the kdd99-rev protocol draws {wanted} attack rows (a quarter of the `normal.` rows), and there are {}",
            anomaly_rows.len()
        );
        let draw = shuffled(anomaly_rows.len(), seed, 24);
        test.extend(draw[..wanted].iter().map(|&i| (0, anomaly_rows[i], 1)));
    } else {
        test.extend(anomaly_rows.iter().map(|&i| (0, i, 1)));
    }
    Ok(Pools {
        normals,
        test,
        spare_anomalies: Vec::new(),
    })
}

/// Tables labelled 0/1 (ADBench, CSV): 60 % of all normals train, the other 40 % and every
/// anomaly test.
fn tabular_pools(source: &DataSource, seed: u64) -> crate::Result<Pools> {
    let train_labels = binary_classes(&source.train)?;
    let test_labels = source.test.as_ref().map(binary_classes).transpose()?;
    let label_of = |(s, i): Item| match (s, &test_labels) {
        (1, Some(t)) => t[class_of(source, (s, i)) as usize],
        _ => train_labels[class_of(source, (s, i)) as usize],
    };
    let mut all: Vec<Item> = (0..source.train.len()).map(|i| (0, i)).collect();
    if let Some(t) = &source.test {
        all.extend((0..t.len()).map(|i| (1, i)));
    }
    let pool_normals: Vec<Item> = all
        .iter()
        .copied()
        .filter(|&it| label_of(it) == 0)
        .collect();
    let order = shuffled(pool_normals.len(), seed, 31);
    let cut = (pool_normals.len() * 3) / 5;
    let normals = order[..cut].iter().map(|&i| pool_normals[i]).collect();
    let mut test: Vec<TestItem> = order[cut..]
        .iter()
        .map(|&i| (pool_normals[i].0, pool_normals[i].1, 0))
        .collect();
    test.extend(
        all.iter()
            .filter(|&&it| label_of(it) == 1)
            .map(|&(s, i)| (s, i, 1)),
    );
    Ok(Pools {
        normals,
        test,
        spare_anomalies: Vec::new(),
    })
}

/// The shared hold-out step: a seeded `validation_fraction` of the normals validates, the rest
/// trains (both cut to the `max_train` budget); each in data-set order.
fn hold_out(mut normals: Vec<Item>, options: &SplitOptions) -> (Vec<Item>, Vec<Item>) {
    normals.sort_unstable();
    let order = shuffled(normals.len(), options.seed, 41);
    let n_valid = ((normals.len() as f64 * options.validation_fraction).ceil() as usize)
        .clamp(1, normals.len() - 1);
    let mut valid: Vec<Item> = order[..n_valid].iter().map(|&i| normals[i]).collect();
    let mut train: Vec<Item> = order[n_valid..].iter().map(|&i| normals[i]).collect();
    if let Some(m) = options.max_train {
        train.truncate(m.max(1));
        valid.truncate(((m as f64 * options.validation_fraction).ceil() as usize).max(1));
    }
    train.sort_unstable();
    valid.sort_unstable();
    (train, valid)
}

/// Keep a seeded subset of the test anomalies so that they make up `fraction` of the test set.
fn with_anomaly_fraction(
    test: Vec<TestItem>,
    fraction: f64,
    seed: u64,
) -> crate::Result<Vec<TestItem>> {
    ensure!(
        fraction > 0.0 && fraction < 1.0,
        "the test anomaly fraction must be between 0 and 1, got {fraction}"
    );
    let (anomalies, normals): (Vec<_>, Vec<_>) = test.iter().partition(|t| t.2 == 1);
    let wanted = ((fraction / (1.0 - fraction)) * normals.len() as f64).round() as usize;
    ensure!(
        wanted <= anomalies.len(),
        "{} test anomalies cannot make up {fraction} of a test set with {} normals",
        anomalies.len(),
        normals.len()
    );
    let order = shuffled(anomalies.len(), seed, 61);
    let mut kept = normals;
    kept.extend(order[..wanted].iter().map(|&i| anomalies[i]));
    kept.sort_unstable();
    Ok(kept)
}

/// The labelled anomalies of weak supervision: as many as `labelled` asks beside a training
/// set of `train_normals` normals, drawn (seeded) from the spare anomalies (an error if they are
/// too few), or, where there are none, taken out of the test anomalies (before any test
/// subsampling) so that no test sample is trained on.
fn labelled_anomalies(
    labelled: LabelledAnomalies,
    train_normals: usize,
    spare: Vec<Item>,
    test: &mut Vec<TestItem>,
    seed: u64,
) -> crate::Result<Vec<Item>> {
    labelled.check()?;
    let wanted = labelled.wanted(train_normals);
    let from_test = spare.is_empty();
    let pool: Vec<Item> = if from_test {
        test.iter()
            .filter(|t| t.2 == 1)
            .map(|&(s, i, _)| (s, i))
            .collect()
    } else {
        spare
    };
    // Taking every test anomaly would leave nothing to test on.
    let available = if from_test {
        pool.len().saturating_sub(1)
    } else {
        pool.len()
    };
    ensure!(
        wanted <= available,
        "--labelled-anomalies {labelled} asks for {wanted} labelled anomalies beside \
         {train_normals} training normals, but only {available} {}",
        if from_test {
            "can be spared from the test set"
        } else {
            "anomalies are outside the test set"
        }
    );
    let order = shuffled(pool.len(), seed, 71);
    let mut chosen: Vec<Item> = order[..wanted].iter().map(|&i| pool[i]).collect();
    chosen.sort_unstable();
    if from_test {
        test.retain(|&(s, i, _)| chosen.binary_search(&(s, i)).is_err());
    }
    Ok(chosen)
}

/// A seeded subset of at most `max` test samples, in data-set order.
fn capped(test: Vec<TestItem>, max: usize, seed: u64) -> Vec<TestItem> {
    if test.len() <= max {
        return test;
    }
    let order = shuffled(test.len(), seed, 51);
    let mut kept: Vec<_> = order[..max].iter().map(|&i| test[i]).collect();
    kept.sort_unstable();
    kept
}

/// PyOD's `fit(X)` as a split: the samples of `set` (labels unknown, taken as normal)
/// shuffled by `options.seed`, `options.validation_fraction` of them held out for validation
/// (at least one each side), the rest trains; no test split.
pub fn fit_split(set: &LabelledSet, options: &SplitOptions) -> crate::Result<Split> {
    check_options(&Protocol::Fit, options)?;
    ensure!(
        set.len() >= 2,
        "fit needs at least 2 samples (one to train, one to validate), got {}",
        set.len()
    );
    let items: Vec<Item> = (0..set.len()).map(|i| (0u8, i)).collect();
    let (train_items, valid_items) = hold_out(items, options);
    let mut out = Split {
        class_names: set.class_names.clone(),
        train: Samples::empty(set.shape),
        valid: Samples::empty(set.shape),
        test: Samples::empty(set.shape),
        labelled: None,
    };
    for (_, i) in train_items {
        out.train.push_from(set, 0, i, 0);
    }
    for (_, i) in valid_items {
        out.valid.push_from(set, 0, i, 0);
    }
    Ok(out)
}

/// Split `source` by `protocol`: the protocol's pools, then the shared steps (hold-out of
/// validation normals, labelled anomalies for weak supervision, test contamination and budget),
/// then the samples themselves.
pub fn split(
    source: &DataSource,
    protocol: &Protocol,
    options: &SplitOptions,
) -> crate::Result<Split> {
    check_options(protocol, options)?;
    if let Protocol::Contaminated { class } = protocol {
        return contaminated_split(source, class, options);
    }
    if let Protocol::Scene = protocol {
        return scene_split(source);
    }
    let Pools {
        normals,
        mut test,
        spare_anomalies,
    } = match protocol {
        Protocol::OneClass { class } => class_pools(source, class, true, options.seed)?,
        Protocol::LeaveOneOut { class } => class_pools(source, class, false, options.seed)?,
        Protocol::Kdd99 => kdd99_pools(source, options.seed)?,
        Protocol::Kdd99Goad => kdd99_goad_pools(source, options.seed, false)?,
        Protocol::Kdd99Rev => kdd99_goad_pools(source, options.seed, true)?,
        Protocol::Tabular => tabular_pools(source, options.seed)?,
        Protocol::Fit => bail!("the fit protocol has no test split; see fit_split"),
        Protocol::Contaminated { .. } | Protocol::Scene => unreachable!("split above"),
    };
    ensure!(
        normals.len() >= 2,
        "the protocol {protocol} leaves {} normal training samples; the normal class is empty or too small",
        normals.len()
    );
    let (train_items, valid_items) = hold_out(normals, options);
    test.sort_unstable();
    let labelled_items = match options.labelled_anomalies {
        Some(f) => Some(labelled_anomalies(
            f,
            train_items.len(),
            spare_anomalies,
            &mut test,
            options.seed,
        )?),
        None => None,
    };
    if let Some(f) = options.test_anomaly_fraction {
        test = with_anomaly_fraction(test, f, options.seed)?;
    }
    if let Some(m) = options.max_test {
        test = capped(test, m, options.seed);
    }
    let shape = source.train.shape;
    let mut out = Split {
        class_names: source.train.class_names.clone(),
        train: Samples::empty(shape),
        valid: Samples::empty(shape),
        test: Samples::empty(shape),
        labelled: None,
    };
    for (s, i) in train_items {
        out.train.push_from(set_of(source, s), s, i, 0);
    }
    for (s, i) in valid_items {
        out.valid.push_from(set_of(source, s), s, i, 0);
    }
    for (s, i, label) in test {
        out.test.push_from(set_of(source, s), s, i, label);
    }
    if let Some(items) = labelled_items {
        let mut labelled = Samples::empty(shape);
        for (s, i) in items {
            labelled.push_from(set_of(source, s), s, i, 1);
        }
        out.labelled = Some(labelled);
    }
    ensure!(
        out.test.anomalies() > 0 && out.test.anomalies() < out.test.len(),
        "the protocol {protocol} gives a test set without both normal and anomalous samples ({} of {} anomalous)",
        out.test.anomalies(),
        out.test.len()
    );
    Ok(out)
}

/// The contaminated protocol ([`Protocol::Contaminated`]): the inliers of the test pool, the
/// drawn outliers, training on all of them and testing on the same set.
fn contaminated_split(
    source: &DataSource,
    class: &str,
    options: &SplitOptions,
) -> crate::Result<Split> {
    let Some(c) = options.contamination else {
        bail!("the contaminated protocol needs --contamination c (outliers per inlier, e.g. 0.1)");
    };
    let k = resolve(&source.train, class)?;
    let (_, test_pool) = pools(source, options.seed);
    let (inliers, others): (Vec<Item>, Vec<Item>) = test_pool
        .into_iter()
        .partition(|&item| class_of(source, item) == k);
    let wanted = (c * inliers.len() as f64).floor() as usize;
    ensure!(
        inliers.len() >= 2 && wanted >= 1 && wanted <= others.len(),
        "the contaminated protocol with class {class} and c = {c} needs {wanted} outliers \
         besides its {} inliers, and the test pool holds {} other samples",
        inliers.len(),
        others.len()
    );
    let order = shuffled(others.len(), options.seed, 51);
    let mut set: Vec<TestItem> = inliers.iter().map(|&(s, i)| (s, i, 0)).collect();
    set.extend(
        order[..wanted]
            .iter()
            .map(|&j| (others[j].0, others[j].1, 1)),
    );
    set.sort_unstable();
    let shape = source.train.shape;
    let mut out = Split {
        class_names: source.train.class_names.clone(),
        train: Samples::empty(shape),
        valid: Samples::empty(shape),
        test: Samples::empty(shape),
        labelled: None,
    };
    let n_valid =
        ((set.len() as f64 * options.validation_fraction).ceil() as usize).clamp(1, set.len() - 1);
    let mut valid: Vec<TestItem> = shuffled(set.len(), options.seed, 41)[..n_valid]
        .iter()
        .map(|&j| set[j])
        .collect();
    valid.sort_unstable();
    // Every role keeps the true labels in split.csv; training never reads them.
    for &(s, i, label) in &set {
        out.train.push_from(set_of(source, s), s, i, label);
        out.test.push_from(set_of(source, s), s, i, label);
    }
    for (s, i, label) in valid {
        out.valid.push_from(set_of(source, s), s, i, label);
    }
    Ok(out)
}

/// Whether `options` suit `protocol`, before any data are read: the validation fraction within
/// (0, 1); `--contamination` given, within (0, 1], for the contaminated protocol and for it
/// only; no resampling for the transductive protocols (contaminated and scene), and the scene
/// protocol's validation fraction left at its default (its whole training scene validates).
pub fn check_options(protocol: &Protocol, options: &SplitOptions) -> crate::Result<()> {
    let fraction = options.validation_fraction;
    ensure!(
        fraction.is_finite() && fraction > 0.0 && fraction < 1.0,
        "the validation fraction must be between 0 and 1 (exclusive), got {fraction}"
    );
    match (protocol, options.contamination) {
        (Protocol::Contaminated { .. }, None) => {
            bail!(
                "the contaminated protocol needs --contamination c (outliers per inlier, e.g. 0.1)"
            )
        }
        (Protocol::Contaminated { .. }, Some(c)) => ensure!(
            c.is_finite() && c > 0.0 && c <= 1.0,
            "--contamination must be within (0, 1], got {c}"
        ),
        (_, Some(_)) => {
            bail!("--contamination applies to the contaminated protocol only, not {protocol}")
        }
        (_, None) => {}
    }
    match protocol {
        Protocol::Contaminated { .. } => refuse_resampling(
            options,
            "the contaminated protocol: it trains on the very set it scores, sized by \
             --contamination",
        ),
        Protocol::Scene => {
            const WHY: &str = "the scene protocol: every pixel of the scene trains, unlabelled, \
                               and every pixel is scored";
            refuse_resampling(options, WHY)?;
            ensure!(
                fraction == SplitOptions::default().validation_fraction,
                "--validation-fraction does not apply to {WHY} (the whole training scene \
                 validates)"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Refuse the options that would subsample the data (`--max-train`, `--max-test`,
/// `--test-anomaly-fraction`, `--labelled-anomalies`) for a transductive protocol, `why` saying
/// which and why.
fn refuse_resampling(options: &SplitOptions, why: &str) -> crate::Result<()> {
    for (given, name) in [
        (options.max_train.is_some(), "--max-train"),
        (options.max_test.is_some(), "--max-test"),
        (
            options.test_anomaly_fraction.is_some(),
            "--test-anomaly-fraction",
        ),
        (options.labelled_anomalies.is_some(), "--labelled-anomalies"),
    ] {
        ensure!(!given, "{name} does not apply to {why}");
    }
    Ok(())
}

/// The class name of a scene's anomalous pixels ([`super::hyperspectral`]).
const SCENE_ANOMALY: &str = "anomaly";

/// The scene protocol ([`Protocol::Scene`]): every pixel of the training scene (the scored
/// scene itself unless a training scene was given) trains and validates; every pixel of the
/// scored scene is tested. Each set keeps its scene's layout.
fn scene_split(source: &DataSource) -> crate::Result<Split> {
    let train_set = &source.train;
    ensure!(
        train_set.class_names.iter().any(|c| c == SCENE_ANOMALY),
        "the scene protocol is for hyperspectral scenes (--dataset hyperspectral), whose \
         pixels are classes background and {SCENE_ANOMALY}"
    );
    let (test_set, test_split) = match &source.test {
        Some(test) => (test, 1u8),
        None => (train_set, 0u8),
    };
    let label = |set: &LabelledSet, i: usize| {
        (set.class_names[set.classes[i] as usize] == SCENE_ANOMALY) as u8
    };
    ensure!(
        train_set.len() >= 2,
        "the scene has {} pixel(s); the scene protocol needs at least 2",
        train_set.len()
    );
    let shape = train_set.shape;
    let mut out = Split {
        class_names: train_set.class_names.clone(),
        train: Samples::empty(shape),
        valid: Samples::empty(shape),
        test: Samples::empty(shape),
        labelled: None,
    };
    // Every role keeps the true labels in split.csv; training never reads them.
    for i in 0..train_set.len() {
        out.train.push_from(train_set, 0, i, label(train_set, i));
    }
    out.valid = out.train.clone();
    out.train.layout = train_set.layout;
    out.valid.layout = train_set.layout;
    out.test.layout = test_set.layout;
    for i in 0..test_set.len() {
        out.test
            .push_from(test_set, test_split, i, label(test_set, i));
    }
    ensure!(
        out.test.anomalies() > 0 && out.test.anomalies() < out.test.len(),
        "the scored scene's map marks {} of its {} pixels as anomalies; it needs both \
         anomalous and background pixels",
        out.test.anomalies(),
        out.test.len()
    );
    Ok(out)
}

impl Split {
    /// Which sample of the data set went where, as CSV `role,split,index,label` (role `train`,
    /// `valid`, `test` or `labelled` (weak supervision's anomalies); split 0 = the data set's training file or only file, 1 = its test
    /// file; label 1 = anomaly), so that another tool can be run on exactly the same split.
    pub fn origins_csv(&self) -> String {
        let mut out = String::from("role,split,index,label\n");
        let labelled = self.labelled.as_ref().map(|l| ("labelled", l));
        for (role, samples) in [
            ("train", &self.train),
            ("valid", &self.valid),
            ("test", &self.test),
        ]
        .into_iter()
        .chain(labelled)
        {
            for (o, label) in samples.origin.iter().zip(&samples.labels) {
                out.push_str(&format!("{role},{},{},{label}\n", o.split, o.index));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SampleShape;
    use std::collections::HashSet;

    fn toy(n: usize, classes: u32) -> LabelledSet {
        LabelledSet {
            layout: None,
            masks: None,
            values: (0..n).map(|i| i as f32).collect(),
            shape: SampleShape::Table { features: 1 },
            classes: (0..n as u32).map(|i| i % classes).collect(),
            class_names: (0..classes).map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_number_is_a_label_where_classes_are_named_by_numbers() {
        let mut set = toy(6, 3);
        set.class_names = vec!["cat".into(), "dog".into(), "owl".into()];
        assert_eq!(resolve(&set, "owl").unwrap(), 2);
        assert_eq!(resolve(&set, "1").unwrap(), 1);
        assert!(resolve(&set, "3").is_err());
        // A table's labels 1, 2, 5: "2" is the class named 2, and "0" no class at all.
        set.class_names = vec!["1".into(), "2".into(), "5".into()];
        assert_eq!(resolve(&set, "2").unwrap(), 1);
        assert_eq!(resolve(&set, "5").unwrap(), 2);
        let err = resolve(&set, "0").unwrap_err().to_string();
        assert!(
            err.contains("unknown class \"0\"") && err.contains("not its position"),
            "{err}"
        );
        // Folders 00 … 02: a number names the class of that number.
        set.class_names = vec!["00".into(), "01".into(), "02".into()];
        assert_eq!(resolve(&set, "1").unwrap(), 1);
        assert_eq!(resolve(&set, "02").unwrap(), 2);
        set.class_names = vec!["1".into(), "1.0".into(), "2".into()];
        assert_eq!(resolve(&set, "1.0").unwrap(), 1, "a name as written");
        let err = resolve(&set, "1.00").unwrap_err().to_string();
        assert!(err.contains("could be any of"), "{err}");
    }

    fn assert_disjoint(split: &Split) {
        let a: HashSet<_> = split.train.origin.iter().collect();
        let b: HashSet<_> = split.valid.origin.iter().collect();
        let c: HashSet<_> = split.test.origin.iter().collect();
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
        if let Some(labelled) = &split.labelled {
            let d: HashSet<_> = labelled.origin.iter().collect();
            assert!(d.is_disjoint(&a) && d.is_disjoint(&b) && d.is_disjoint(&c));
            assert_eq!(d.len(), labelled.len());
        }
        assert_eq!(a.len(), split.train.len());
        assert_eq!(c.len(), split.test.len());
    }

    #[test]
    fn splits_are_disjoint_and_normal_only() {
        let with_test = DataSource {
            test_every_anomaly: false,
            train: toy(200, 4),
            test: Some(toy(80, 4)),
        };
        let single = DataSource {
            test_every_anomaly: false,
            train: toy(300, 4),
            test: None,
        };
        for source in [&with_test, &single] {
            for protocol in [
                Protocol::OneClass { class: "1".into() },
                Protocol::LeaveOneOut { class: "1".into() },
            ] {
                let s = split(source, &protocol, &SplitOptions::default()).unwrap();
                assert_disjoint(&s);
                assert!(s.train.labels.iter().all(|&l| l == 0));
                assert!(s.valid.labels.iter().all(|&l| l == 0) && !s.valid.is_empty());
                // training normals really are normal classes
                for o in &s.train.origin {
                    let set = if o.split == 0 {
                        &source.train
                    } else {
                        source.test.as_ref().unwrap()
                    };
                    let c = set.classes[o.index as usize];
                    match protocol {
                        Protocol::OneClass { .. } => assert_eq!(c, 1),
                        _ => assert_ne!(c, 1),
                    }
                }
            }
        }
        // leave-one-out takes the anomaly class of the training split into the test set
        let s = split(
            &with_test,
            &Protocol::LeaveOneOut { class: "1".into() },
            &SplitOptions::default(),
        )
        .unwrap();
        assert_eq!(s.test.anomalies(), 50 + 20);
    }

    /// Weak supervision's labelled anomalies come from outside the test set (the training
    /// split's spare anomalies), or out of it where every anomaly is test data; never twice.
    #[test]
    fn labelled_anomalies_never_test() {
        let one_class = Protocol::OneClass { class: "2".into() };
        let options = SplitOptions {
            labelled_anomalies: Some(LabelledAnomalies::Share(0.05)),
            ..SplitOptions::default()
        };
        // A data set with its own test split: the anomalies of the training split are spare.
        let two_splits = DataSource {
            test_every_anomaly: false,
            train: toy(400, 4),
            test: Some(toy(400, 4)),
        };
        let plain = split(&two_splits, &one_class, &SplitOptions::default()).unwrap();
        assert!(plain.labelled.is_none());
        let s = split(&two_splits, &one_class, &options).unwrap();
        let labelled = s.labelled.as_ref().unwrap();
        // 90 training normals: 0.05 / 0.95 · 90 = 4.7 → 5 labelled anomalies, all class ≠ 2.
        assert_eq!(s.train.len(), 90);
        assert_eq!(labelled.len(), 5);
        assert!(labelled.labels.iter().all(|&l| l == 1));
        assert!(labelled.classes.iter().all(|&c| c != 2));
        assert!(labelled.origin.iter().all(|o| o.split == 0));
        assert_eq!(s.test.len(), plain.test.len(), "the test set is untouched");
        assert!(
            s.origins_csv()
                .lines()
                .filter(|l| l.starts_with("labelled,"))
                .count()
                == 5
        );
        // Every anomaly is test data (Magnetic Tile): the labelled ones leave the test set.
        let one_split = DataSource {
            test_every_anomaly: true,
            train: toy(400, 4),
            test: None,
        };
        let plain = split(&one_split, &one_class, &SplitOptions::default()).unwrap();
        let s = split(&one_split, &one_class, &options).unwrap();
        let labelled = s.labelled.as_ref().unwrap();
        assert!(!labelled.is_empty());
        assert_eq!(s.test.anomalies() + labelled.len(), plain.test.anomalies());
        let test: HashSet<_> = s.test.origin.iter().collect();
        assert!(labelled.origin.iter().all(|o| !test.contains(o)));
        assert_disjoint(&s);
        // More than can be spared is an error naming the option.
        let greedy = SplitOptions {
            labelled_anomalies: Some(LabelledAnomalies::Share(0.9)),
            ..SplitOptions::default()
        };
        let e = split(&one_split, &one_class, &greedy)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--labelled-anomalies"), "{e}");
        // A count is that many, whatever the training set's size.
        let seven = SplitOptions {
            labelled_anomalies: Some(LabelledAnomalies::Count(7)),
            ..SplitOptions::default()
        };
        let s = split(&two_splits, &one_class, &seven).unwrap();
        assert_eq!(s.labelled.as_ref().map(|l| l.len()), Some(7));
        // More than the anomalies outside the test set: refused, naming the count.
        let too_many = SplitOptions {
            labelled_anomalies: Some(LabelledAnomalies::Count(100_000)),
            ..SplitOptions::default()
        };
        let e = split(&two_splits, &one_class, &too_many)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--labelled-anomalies 100000"), "{e}");
    }

    /// `--labelled-anomalies` reads a whole number as a count and a decimal or a percentage as
    /// a share, refuses what is neither or out of range, and a run's settings written before
    /// counts existed (a bare share) load as the share.
    #[test]
    fn labelled_anomalies_are_a_count_or_a_share() {
        use LabelledAnomalies::{Count, Share};
        assert_eq!(LabelledAnomalies::parse("10").unwrap(), Count(10));
        assert_eq!(LabelledAnomalies::parse("0.02").unwrap(), Share(0.02));
        assert_eq!(LabelledAnomalies::parse("2%").unwrap(), Share(0.02));
        assert_eq!(LabelledAnomalies::parse(" 1 ").unwrap(), Count(1));
        for (text, needle) in [
            ("0", "at least 1"),
            ("1.5", "without a decimal point"),
            ("10.0", "without a decimal point"),
            ("150%", "between 0 and 1"),
            ("-3", "between 0 and 1"),
            ("NaN", "between 0 and 1"),
            ("ten", "count (10) or a share"),
            ("", "count (10) or a share"),
        ] {
            let e = LabelledAnomalies::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        assert_eq!(Share(0.05).wanted(95), 5);
        assert_eq!(Share(0.001).wanted(95), 1, "a share asks for at least one");
        assert_eq!(Count(3).wanted(95), 3);
        for labelled in [Count(10), Share(0.05)] {
            let json = serde_json::to_string(&labelled).unwrap();
            assert_eq!(
                serde_json::from_str::<LabelledAnomalies>(&json).unwrap(),
                labelled
            );
        }
        let old: SplitOptions = serde_json::from_str(
            r#"{"seed": 0, "validation_fraction": 0.1, "labelled_anomalies": 0.05}"#,
        )
        .unwrap();
        assert_eq!(old.labelled_anomalies, Some(Share(0.05)));
    }

    /// ALOCC's contamination protocol: anomalies subsampled to the asked fraction of the test
    /// set, every test normal kept.
    #[test]
    fn test_anomaly_fraction_subsamples_anomalies() {
        let source = DataSource {
            test_every_anomaly: false,
            train: toy(400, 4),
            test: Some(toy(400, 4)),
        };
        let one_class = Protocol::OneClass { class: "2".into() };
        for f in [0.1, 0.3, 0.5] {
            let options = SplitOptions {
                test_anomaly_fraction: Some(f),
                ..SplitOptions::default()
            };
            let s = split(&source, &one_class, &options).unwrap();
            let normals = s.test.len() - s.test.anomalies();
            assert_eq!(normals, 100);
            let got = s.test.anomalies() as f64 / s.test.len() as f64;
            assert!((got - f).abs() < 0.01, "{got} for {f}");
            assert_disjoint(&s);
        }
        let too_many = SplitOptions {
            test_anomaly_fraction: Some(0.9),
            ..SplitOptions::default()
        };
        assert!(split(&source, &one_class, &too_many).is_err());
    }

    /// The scene protocol: every pixel trains and is tested in scene order with its map label,
    /// and validates (each set keeping the layout); with a training scene, that scene
    /// trains and the other is tested; options that would drop pixels are refused, as is data
    /// that is not a scene.
    #[test]
    fn scene_trains_on_every_pixel_and_scores_every_pixel() {
        let scene = |n: usize, anomalies: &[usize]| LabelledSet {
            layout: Some(crate::data::hyperspectral::SceneLayout {
                height: 1,
                width: n,
            }),
            values: (0..n * 2).map(|v| v as f32).collect(),
            shape: SampleShape::Table { features: 2 },
            classes: (0..n).map(|i| anomalies.contains(&i) as u32).collect(),
            class_names: vec!["background".into(), "anomaly".into()],
            masks: None,
        };
        let one = DataSource {
            test_every_anomaly: false,
            train: scene(50, &[3, 7]),
            test: None,
        };
        let s = split(&one, &Protocol::Scene, &SplitOptions::default()).unwrap();
        assert_eq!(s.test.len(), 50);
        assert_eq!(s.train.origin, s.test.origin);
        assert!(
            s.test
                .origin
                .iter()
                .enumerate()
                .all(|(i, o)| o.index as usize == i)
        );
        assert_eq!(s.test.anomalies(), 2);
        assert_eq!((s.test.labels[3], s.test.labels[7]), (1, 1));
        assert_eq!(s.valid.origin, s.train.origin);
        let whole = Some(crate::data::hyperspectral::SceneLayout {
            height: 1,
            width: 50,
        });
        assert_eq!(
            (s.train.layout, s.valid.layout, s.test.layout),
            (whole, whole, whole)
        );

        let two = DataSource {
            test_every_anomaly: false,
            train: scene(30, &[]),
            test: Some(scene(40, &[0])),
        };
        let s = split(&two, &Protocol::Scene, &SplitOptions::default()).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (30, 40));
        assert!(s.train.origin.iter().all(|o| o.split == 0));
        assert!(s.test.origin.iter().all(|o| o.split == 1));

        let capped = SplitOptions {
            max_test: Some(10),
            ..SplitOptions::default()
        };
        let err = format!("{:#}", split(&one, &Protocol::Scene, &capped).unwrap_err());
        assert!(err.contains("--max-test"), "{err}");
        let not_a_scene = DataSource {
            test_every_anomaly: false,
            train: toy(40, 2),
            test: None,
        };
        assert!(split(&not_a_scene, &Protocol::Scene, &SplitOptions::default()).is_err());
        let blank = DataSource {
            test_every_anomaly: false,
            train: scene(20, &[]),
            test: None,
        };
        let err = format!(
            "{:#}",
            split(&blank, &Protocol::Scene, &SplitOptions::default()).unwrap_err()
        );
        assert!(err.contains("0 of its 20"), "{err}");
    }

    /// RSRAE's protocol: the test pool's inliers plus ⌊c·n⌋ drawn outliers, trained on and
    /// scored as one set; validation a part of it; the draw follows the seed; options that
    /// would make train and test differ are refused, as is a missing or bad `c`.
    #[test]
    fn contaminated_trains_on_the_set_it_scores() {
        let source = DataSource {
            test_every_anomaly: false,
            train: toy(400, 4),
            test: Some(toy(400, 4)),
        };
        let protocol = Protocol::Contaminated { class: "2".into() };
        let with = |c: f64, seed: u64| SplitOptions {
            contamination: Some(c),
            seed,
            ..SplitOptions::default()
        };
        for c in [0.1, 0.5, 0.9] {
            let s = split(&source, &protocol, &with(c, 0)).unwrap();
            assert_eq!(s.test.len() - s.test.anomalies(), 100);
            assert_eq!(s.test.anomalies(), (c * 100.0).floor() as usize);
            assert_eq!(s.train.origin, s.test.origin);
            assert_eq!(s.train.labels, s.test.labels);
            assert!(s.test.origin.iter().all(|o| o.split == 1));
            let train: HashSet<_> = s.train.origin.iter().map(|o| (o.split, o.index)).collect();
            assert!(
                s.valid
                    .origin
                    .iter()
                    .all(|o| train.contains(&(o.split, o.index)))
            );
            assert_eq!(
                s.valid.len(),
                ((s.train.len() as f64) * 0.1).ceil() as usize
            );
        }
        let outliers = |seed| {
            let s = split(&source, &protocol, &with(0.3, seed)).unwrap();
            s.test
                .origin
                .iter()
                .zip(&s.test.labels)
                .filter(|(_, l)| **l == 1)
                .map(|(o, _)| o.index)
                .collect::<Vec<_>>()
        };
        assert_eq!(outliers(4), outliers(4));
        assert_ne!(outliers(4), outliers(5));
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(
                split(&source, &protocol, &with(bad, 0)).is_err(),
                "c = {bad}"
            );
        }
        assert!(split(&source, &protocol, &SplitOptions::default()).is_err());
        let capped = SplitOptions {
            max_test: Some(50),
            ..with(0.5, 0)
        };
        assert!(split(&source, &protocol, &capped).is_err());
        let one_class = Protocol::OneClass { class: "2".into() };
        assert!(split(&source, &one_class, &with(0.5, 0)).is_err());
    }

    #[test]
    fn origins_csv_lists_every_sample_once_with_its_role() {
        let mut set = toy(50, 2);
        set.class_names = vec!["normal".into(), "anomaly".into()];
        let source = DataSource {
            test_every_anomaly: false,
            train: set,
            test: None,
        };
        let s = split(&source, &Protocol::Tabular, &SplitOptions::default()).unwrap();
        let csv = s.origins_csv();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), s.train.len() + s.valid.len() + s.test.len());
        let train_rows = rows.iter().filter(|r| r.starts_with("train,")).count();
        assert_eq!(train_rows, s.train.len());
        let first_test = s.test.origin[0];
        assert!(csv.contains(&format!(
            "test,{},{},{}\n",
            first_test.split, first_test.index, s.test.labels[0]
        )));
    }

    #[test]
    fn tabular_and_kdd_proportions() {
        let mut set = toy(1000, 2);
        set.class_names = vec!["normal".into(), "anomaly".into()];
        let s = split(
            &DataSource {
                test_every_anomaly: false,
                train: set,
                test: None,
            },
            &Protocol::Tabular,
            &SplitOptions::default(),
        )
        .unwrap();
        assert_disjoint(&s);
        assert_eq!(s.train.len() + s.valid.len(), 300);
        assert_eq!(s.test.anomalies(), 500);
        let mut kdd = toy(1000, 5);
        kdd.class_names = vec![
            "normal.".into(),
            "smurf.".into(),
            "neptune.".into(),
            "back.".into(),
            "pod.".into(),
        ];
        let s = split(
            &DataSource {
                test_every_anomaly: false,
                train: kdd,
                test: None,
            },
            &Protocol::Kdd99,
            &SplitOptions::default(),
        )
        .unwrap();
        assert_disjoint(&s);
        let frac = s.test.anomalies() as f64 / s.test.len() as f64;
        assert!((frac - 0.2).abs() < 0.01, "{frac}");
    }

    /// GOAD's two KDDCUP99 splits: the normal class (attacks; `normal.` reversed) halved
    /// between training and test; the test adds every `normal.` row, or (reversed) a quarter as
    /// many attacks as there are `normal.` rows; the class of every row as the protocol says.
    #[test]
    fn goad_kdd_splits() {
        let mut kdd = toy(1000, 5);
        kdd.class_names = vec![
            "normal.".into(),
            "smurf.".into(),
            "neptune.".into(),
            "back.".into(),
            "pod.".into(),
        ];
        let source = DataSource {
            test_every_anomaly: false,
            train: kdd,
            test: None,
        };
        let traffic =
            |origin: &[crate::data::Origin]| origin.iter().filter(|o| o.index % 5 == 0).count();
        // 800 attacks, 200 `normal.` rows.
        let s = split(&source, &Protocol::Kdd99Goad, &SplitOptions::default()).unwrap();
        assert_disjoint(&s);
        assert_eq!(s.train.len() + s.valid.len(), 400);
        assert_eq!(traffic(&s.train.origin) + traffic(&s.valid.origin), 0);
        assert_eq!((s.test.len(), s.test.anomalies()), (600, 200));
        assert_eq!(traffic(&s.test.origin), 200);
        let s = split(&source, &Protocol::Kdd99Rev, &SplitOptions::default()).unwrap();
        assert_disjoint(&s);
        assert_eq!(s.train.len() + s.valid.len(), 100);
        assert_eq!(traffic(&s.train.origin) + traffic(&s.valid.origin), 100);
        assert_eq!((s.test.len(), s.test.anomalies()), (150, 50));
        assert_eq!(traffic(&s.test.origin), 100);
        for (o, &l) in s.test.origin.iter().zip(&s.test.labels) {
            assert_eq!(l == 1, o.index % 5 != 0);
        }
        assert_eq!(
            Protocol::parse("kdd99-rev", None).unwrap(),
            Protocol::Kdd99Rev
        );
        assert!(Protocol::parse("kdd99-goad", Some("3")).is_err());
    }

    #[test]
    fn unknown_and_empty_classes_are_errors() {
        let source = DataSource {
            test_every_anomaly: false,
            train: toy(40, 4),
            test: None,
        };
        let err = split(
            &source,
            &Protocol::OneClass {
                class: "cat".into(),
            },
            &SplitOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown class \"cat\""), "{err}");
        let mut set = toy(40, 4);
        set.class_names.push("empty".into());
        let err = split(
            &DataSource {
                test_every_anomaly: false,
                train: set,
                test: None,
            },
            &Protocol::OneClass {
                class: "empty".into(),
            },
            &SplitOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("normal class is empty"), "{err}");
    }
}
