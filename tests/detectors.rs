//! Each detector trains briefly on a real fixture and must beat chance by a wide margin; runs
//! are deterministic and survive a save/load round trip with identical scores.
//!
//! AUROC floors were set from measurements of these exact runs (see each test), with margin.

mod common;

use common::*;
use oddity::data::protocol::{LabelledAnomalies, Protocol};
use oddity::data::source::DatasetKind;
use oddity::models::vae::VaeDecoder;
use oddity::run::{self, Checkpoint, Run};

/// Train `config` and require a test AUROC above `floor`.
fn assert_learns(config: oddity::run::RunConfig, floor: f64) {
    learns(config, floor);
}

/// Train `config`, require a test AUROC above `floor`, and give back the trained run for more
/// checks on the same weights.
fn learns(
    config: oddity::run::RunConfig,
    floor: f64,
) -> (run::Trained, oddity::data::protocol::Split) {
    let what = format!("{} on {:?}", config.model.name(), config.dataset.path);
    let (trained, split) = train(config);
    let auroc = test_auroc(&trained, &split);
    eprintln!("{what}: measured AUROC {auroc:.4}");
    assert!(
        auroc > floor,
        "{what}: AUROC {auroc} under the floor {floor}"
    );
    (trained, split)
}

/// [`learns`], then [`assert_saved_run_scores_alike`] on the same run.
fn assert_learns_and_round_trips(config: oddity::run::RunConfig, floor: f64, tag: &str) {
    let (mut trained, split) = learns(config, floor);
    assert_saved_run_scores_alike(&mut trained, &split, tag);
}

fn builtin_mnist() -> oddity::data::source::DatasetSpec {
    spec(DatasetKind::BuiltinMnist, "builtin".into())
}

/// GANomaly, leave-one-out with digit 0 as the anomaly, 2 epochs on the 2 430 training images
/// of the bundled subset, 600 test images. Measured: AUROC 0.786 / 0.817 / 0.839 (seeds 0–2;
/// 3 epochs gave 0.950 for seed 0 at 1.6× the time; AVX2 kernels, `scripts/test_avx2.sh`:
/// 0.777 for seed 0; on 1 200 of the training images, half the time: 0.430 / 0.564 / 0.636,
/// too few steps); floor 0.72.
#[test]
fn ganomaly_learns_mnist_leave_one_out() {
    let mut c = config(
        "ganomaly",
        builtin_mnist(),
        Protocol::LeaveOneOut { class: "0".into() },
        0,
        2,
    );
    c.split.max_test = Some(600);
    assert_learns(c, 0.72);
}

/// ADAE, one-class with digit 1 normal (the bundled subset's 270 training images), 3 epochs,
/// 600 test images. Measured: AUROC 0.879 / 0.897 / 0.910 (seeds 0–2; 5 epochs: 0.890 / 0.906
/// / 0.925; 8 epochs: 0.937 for seed 0); floor 0.82. The saved run scores the same after
/// loading.
#[test]
fn adae_learns_mnist_one_class() {
    let mut c = config(
        "adae",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        3,
    );
    c.split.max_test = Some(600);
    assert_learns_and_round_trips(c, 0.82, "roundtrip-adae");
}

/// Skip-GANomaly, one-class with digit 1 normal, 3 epochs on the bundled subset, 600 test
/// images. Measured: AUROC 0.874 / 0.897 / 0.901 (seeds 0–2; 5 epochs: 0.888 / 0.881 / 0.920;
/// 8 epochs: 0.858 for seed 0); floor 0.78. The saved run scores the same after loading.
#[test]
fn skip_ganomaly_learns_mnist_one_class() {
    let mut c = config(
        "skip-ganomaly",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        3,
    );
    c.split.max_test = Some(600);
    assert_learns_and_round_trips(c, 0.78, "roundtrip-skip-ganomaly");
}

/// ALOCC, one-class with digit 1 normal, images in [0, 1] (the paper's units for σ = 0.155),
/// 30 % anomalies in the test set (ALOCC's protocol), 10 epochs. Measured: AUROC 0.920;
/// floor 0.80. The saved run scores the same after loading.
#[test]
fn alocc_learns_mnist_one_class() {
    let mut c = config(
        "alocc",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        10,
    );
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinMax;
    c.split.test_anomaly_fraction = Some(0.3);
    assert_learns_and_round_trips(c, 0.80, "roundtrip-alocc");
}

/// f-AnoGAN (izi_f) at a smoke-test size: base width 4, 8 WGAN-GP epochs then 6 encoder epochs
/// in batches of 32 (encoder lr 1e-3) on the bundled digit-1 images resized to 64×64 in
/// [−1, 1], 300 test images. The floor is on the score's residual part `A_R` (κ = 0 at score
/// time, the same weights): at this budget the critic has not converged, its features are
/// large, and the feature term `κ·A_D` decides the full score's ranking unreliably (full score
/// 0.649 / 0.927 / 0.981 for seeds 0–2). Measured `A_R`: 0.928 / 0.904 / 0.989 (seeds 0–2;
/// AVX2 kernels, `scripts/test_avx2.sh`: 0.903 for seed 0, full score 0.664).
/// Earlier settings, for whoever tunes this again: batches of 64 for 12 + 8 epochs (1.3× the
/// time) gave `A_R` 0.910 / 0.909 / 0.957 (AVX2: 0.911; 0.883 for seed 0 with the convolution
/// kernels of perf log entry 7, whose sums are ordered differently; the full score 0.49 / 0.93
/// / 0.96, and 0.2135 on the AVX2 path at width 8), and for 8 + 6 epochs 0.705 / 0.917 / 0.992,
/// too unsteady; width 8 with 8 + 6 epochs took 1.8× the time and gave 0.848 for seed 0 but
/// 0.55 for seed 2 with 6 + 4. The score is chaotic in the kernels' summation order at this
/// size: with the forward kernels of perf log entry 8, 0.740 / 0.884 / 0.971, and 0.329 for
/// seed 0 on the AVX2 path.
/// Floor 0.80 on `A_R`; the full score must be finite, and the saved run scores the same after
/// loading under both checkpoints.
#[test]
fn fanogan_learns_mnist_one_class() {
    let mut c = config(
        "fanogan",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        20,
    );
    if let Some(f) = c.model.get_mut::<oddity::models::FanoganConfig>() {
        f.width = 4;
        f.gan_epochs = 8;
        f.encoder_epochs = 6;
        f.batch_size = 32;
        f.encoder_learning_rate = 1e-3;
    }
    c.train.batch_size = 32;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c.split.max_test = Some(300);
    let (mut trained, split) = train(c);
    let full = test_auroc(&trained, &split);
    assert!(full.is_finite());
    assert!(
        trained.run.log.best_epoch > 8,
        "the best checkpoint must have a trained encoder"
    );
    let root = temp_dir("fanogan-residual");
    trained.save(&root.join("run")).unwrap();
    let mut run = Run::load(&root.join("run")).unwrap();
    let mut residual_only = run.config.model.clone();
    if let Some(f) = residual_only.get_mut::<oddity::models::FanoganConfig>() {
        f.kappa = 0.0;
    }
    let device = common::device();
    let detector = run
        .rescore_with(residual_only, Checkpoint::Last, &split.valid, &device)
        .unwrap();
    let auroc = run::evaluate_on_test(&run, detector.as_ref(), Checkpoint::Last, &split.test)
        .unwrap()
        .metrics
        .auroc;
    eprintln!("fanogan: measured AUROC A_R {auroc:.4}, full score {full:.4}");
    assert!(auroc > 0.80, "AUROC of A_R {auroc}");
    assert_saved_run_scores_alike(&mut trained, &split, "roundtrip-fanogan");
}

/// EGBAD with its MNIST networks, one-class with digit 1 normal (270 training images), 4
/// epochs, short-run configuration (lr 1e-4, moving average 0.99), 600 test images.
/// Measured: AUROC 0.906 / 0.932 / 0.933 (seeds 0–2; 6 epochs: 0.907 / 0.933 / 0.934; 10
/// epochs: 0.908 for seed 0); floor 0.75.
#[test]
fn egbad_learns_mnist_one_class() {
    let mut c = config(
        "egbad",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        4,
    );
    if let Some(e) = c.model.get_mut::<oddity::models::EgbadConfig>() {
        e.learning_rate = 1e-4;
        e.ema_decay = Some(0.99);
    }
    c.split.max_test = Some(600);
    assert_learns(c, 0.75);
}

/// Convolutional autoencoder, one-class with digit 1 normal. Measured: AUROC 0.984; floor 0.90.
#[test]
fn autoencoder_learns_mnist_one_class() {
    let c = config(
        "autoencoder",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        5,
    );
    assert_learns(c, 0.90);
}

/// SSIM autoencoder (the paper's network at 32 × 32, SSIM loss, inputs in [0, 1]), one-class
/// with digit 1 normal, 20 epochs of batch 32, image score the map's maximum. Measured: AUROC
/// 0.919 (seed 0; seeds 1 and 2 give 0.945 and 0.873 at this budget); floor 0.80.
#[test]
fn ssim_ae_learns_mnist_one_class() {
    let mut c = config(
        "ssim-ae",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        20,
    );
    if let Some(s) = c.model.get_mut::<oddity::models::SsimAeConfig>() {
        s.image_size = 32;
    }
    c.train.batch_size = 32;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinMax;
    assert_learns(c, 0.80);
}

/// CAVGA-Du (reconstruction score), one-class with digit 1 normal, 6 epochs of batch 32.
/// Measured (last weights, seeds 0, 1, 2): AUROC 0.942 / 0.955 / 0.945 (10 epochs: 0.948 for
/// seed 0); floor 0.85.
#[test]
fn cavga_learns_mnist_one_class() {
    let mut c = config(
        "cavga",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        6,
    );
    c.train.batch_size = 32;
    assert_learns(c, 0.85);
}

/// CAVGA-Dw (classifier score), one-class with digit 1 normal, 2 % labelled anomalies (6 images
/// of other digits from the training split, never test data), 10 epochs of batch 32.
/// Measured (seeds 0, 1, 2): AUROC 0.898 / 0.891 / 0.848; floor 0.78. Weak supervision given
/// to a model without it, or withheld from it, is refused by name.
#[test]
fn cavga_weakly_supervised_learns_mnist_one_class() {
    let mut c = config(
        "cavga",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        10,
    );
    c.train.batch_size = 32;
    let mut unlabelled = c.clone();
    unlabelled.split.labelled_anomalies = Some(LabelledAnomalies::Share(0.02));
    let e = unlabelled.validate().unwrap_err().to_string();
    assert!(
        e.contains("--labelled-anomalies") && e.contains("normal samples only"),
        "{e}"
    );
    c.model
        .get_mut::<oddity::models::CavgaConfig>()
        .unwrap()
        .supervision = oddity::models::cavga::Supervision::Weak;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("--labelled-anomalies"), "{e}");
    c.split.labelled_anomalies = Some(LabelledAnomalies::Share(0.02));
    let (mut trained, split) = train(c);
    assert_eq!(split.labelled.as_ref().map(|l| l.len()), Some(6));
    let auroc = test_auroc(&trained, &split);
    eprintln!("cavga-w: measured AUROC {auroc:.4}");
    assert!(auroc > 0.78, "AUROC {auroc} under the floor 0.78");
    // The classifier is part of the checkpoint: the saved run scores as the trained one.
    assert_saved_run_scores_alike(&mut trained, &split, "cavga-w");
}

/// MLP autoencoder on the KDDCUP99 fixture under the EGBAD/ALAD protocol. Measured: AUROC 0.990;
/// floor 0.90.
#[test]
fn autoencoder_learns_kdd99() {
    let c = config(
        "autoencoder",
        spec(DatasetKind::Kdd99, fixture("kddcup99")),
        Protocol::Kdd99,
        0,
        20,
    );
    assert_learns(c, 0.90);
}

/// MLP autoencoder on ADBench breastw (tabular protocol). Measured: AUROC 0.977; floor 0.90.
#[test]
fn autoencoder_learns_adbench_table() {
    let c = config(
        "autoencoder",
        spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz")),
        Protocol::Tabular,
        0,
        30,
    );
    assert_learns(c, 0.90);
}

/// VAE (MLP, Gaussian decoder) on ADBench breastw, tabular protocol, 20 epochs, scored by the
/// IWAE bound with 100 importance samples. Measured (last epoch): AUROC 0.9908 / 0.9933 /
/// 0.9846 (seeds 0–2); floor 0.95. The saved run scores the same after loading.
#[test]
fn vae_learns_adbench_table() {
    let c = config(
        "vae",
        spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz")),
        Protocol::Tabular,
        0,
        20,
    );
    assert_learns_and_round_trips(c, 0.95, "roundtrip-vae-table");
}

/// Conv VAE on the bundled digit-1 images (one-class), its default scaling to [−1, 1], 5
/// epochs, IWAE with 20 importance samples, 300 test images. Measured (last epoch): AUROC
/// 0.9599 / 0.9654 / 0.9752 (seeds 0–2; at 3 epochs 0.825–0.853, standardised 0.918–0.932);
/// floor 0.90.
#[test]
fn vae_learns_mnist_one_class() {
    assert_learns(vae_on_digit_one(VaeDecoder::Gaussian), 0.90);
}

/// The conv VAE of the two tests below: the bundled digit-1 images, one-class, 5 epochs, IWAE
/// with 20 importance samples, 300 test images, seed 0.
fn vae_on_digit_one(decoder: VaeDecoder) -> oddity::run::RunConfig {
    let mut c = config(
        "vae",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        5,
    );
    if let Some(v) = c.model.get_mut::<oddity::models::VaeConfig>() {
        v.importance_samples = 20;
        v.decoder = decoder;
    }
    c.split.max_test = Some(300);
    c
}

/// The same VAE with the discretised logistic decoder (`decoder: discretized-logistic`, a
/// learned scale per pixel; the resized images moved to their nearest 8-bit levels): the same
/// run. Measured (last epoch): AUROC 0.9904 / 0.9966 /
/// 0.9962 (seeds 0–2; the Gaussian decoder's 0.9599 on seed 0); floor 0.97. The saved run
/// scores the same after loading. Digit 1 is the simplest digit: on the others this likelihood
/// falls below the Gaussian's (docs/results/vae.md).
#[test]
fn vae_with_the_logistic_decoder_learns_mnist_one_class() {
    let c = vae_on_digit_one(VaeDecoder::DiscretizedLogistic);
    assert_learns_and_round_trips(c, 0.97, "roundtrip-vae-logistic");
}

/// PixelCNN (32 filters, 3 type-B blocks) on the bundled digit-1 images, one-class, 5 epochs of
/// batch 64, −log p(x) of the 8-bit levels. Measured (last epoch): AUROC 0.9930 / 0.9958 /
/// 0.9971 (seeds 0–2); floor 0.98. The saved run scores the same after loading. Digit 1 is the
/// simplest digit: with 3, 8 or 0 normal the same run gives 0.42, 0.37 and 0.19, the
/// likelihood's preference for simple images (docs/results/ood.md).
#[test]
fn pixelcnn_learns_mnist_one_class() {
    let mut c = config(
        "pixelcnn",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        5,
    );
    if let Some(p) = c.model.get_mut::<oddity::models::PixelCnnConfig>() {
        p.filters = 32;
        p.blocks = 3;
    }
    assert_learns_and_round_trips(c, 0.98, "roundtrip-pixelcnn");
}

/// Deep SVDD (one-class), the official MNIST LeNet, on the bundled digit-1 images under the
/// paper's preprocessing (`gcn-l1`): 15 pretraining and 15 Deep SVDD epochs, batch 32, lr 1e-3
/// (the paper: 150 + 150 epochs, batch 200, lr 1e-4, on 6 000 images). Measured: AUROC
/// 0.9969 / 0.9987 / 0.9982 (seeds 0–2; at 30 + 30 epochs 0.9983 / 0.9976 / 0.9960, and the
/// soft-boundary objective 0.9982 on seed 0); floor 0.98. The round trip on 1 + 1 epochs.
#[test]
fn deep_svdd_learns_mnist_one_class() {
    assert_learns(deep_svdd_digit1(15, 15), 0.98);
    assert_round_trip(deep_svdd_digit1(1, 1), "roundtrip-deep-svdd");
}

/// Deep SVDD on the bundled digit-1 images as the tests here train it: `pretrain` + `svdd`
/// epochs, batch 32, lr 1e-3, `gcn-l1`, seed 0.
fn deep_svdd_digit1(pretrain: usize, svdd: usize) -> oddity::run::RunConfig {
    let mut c = config(
        "deep-svdd",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        pretrain + svdd,
    );
    if let Some(d) = c.model.get_mut::<oddity::models::DeepSvddConfig>() {
        d.pretrain_epochs = pretrain;
        d.svdd_epochs = svdd;
        d.learning_rate = 1e-3;
        d.batch_size = 32;
    }
    c.train.batch_size = 32;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::GcnL1;
    c
}

/// Deep SVDD's soft-boundary objective (ν 0.1, R the 0.9 quantile of each batch's distances
/// after 5 warm-up epochs), otherwise as `deep_svdd_learns_mnist_one_class`: 15 + 15 epochs on
/// the bundled digit-1 images. Measured: AUROC 0.9972 / 0.9946 / 0.9970 (seeds 0–2); floor
/// 0.98. The round trip on 1 + 1 epochs without warm-up, so that R is set and a checkpoint that
/// lost it would move every score by R².
#[test]
fn deep_svdd_soft_boundary_learns_mnist_one_class() {
    let with = |pretrain: usize, svdd: usize, warm_up: usize| {
        let mut c = deep_svdd_digit1(pretrain, svdd);
        if let Some(d) = c.model.get_mut::<oddity::models::DeepSvddConfig>() {
            d.objective = oddity::models::deep_svdd::Objective::SoftBoundary;
            d.warm_up_epochs = warm_up;
        }
        c
    };
    assert_learns(with(15, 15, 5), 0.98);
    assert_round_trip(with(1, 1, 0), "roundtrip-deep-svdd-soft-boundary");
}

/// Deep SVDD with the official CIFAR-10 LeNet (`{"networks": "cifar10"}`: three convolution
/// stages, code 128, the autoencoder's Xavier-with-gain convolutions and BatchNorm on the
/// code) on the bundled digit-1 images resized to 32 × 32 (grey: one-channel first and last
/// layers), `gcn-l1`: 5 pretraining and 5 Deep SVDD epochs, batch 32, lr 1e-3 (the paper:
/// 350 + 150 epochs on 5 000 colour images, lr 1e-4). Measured: AUROC 0.9628 / 0.9851 /
/// 0.9862 (seeds 0–2; 10 + 10 epochs: 0.9987 / 0.9988 / 0.9993; after 1 + 1 epochs 0.9452);
/// floor 0.93. The round trip on 1 + 1 epochs.
#[test]
fn deep_svdd_cifar10_networks_learn_mnist_one_class() {
    let seed = 0;
    let with = |pretrain: usize, svdd: usize| {
        let mut c = config(
            "deep-svdd",
            builtin_mnist(),
            Protocol::OneClass { class: "1".into() },
            seed,
            pretrain + svdd,
        );
        c.model = oddity::models::ModelConfig::new(oddity::models::DeepSvddConfig {
            pretrain_epochs: pretrain,
            svdd_epochs: svdd,
            learning_rate: 1e-3,
            batch_size: 32,
            ..oddity::models::DeepSvddConfig::official(
                oddity::models::deep_svdd::DeepSvddNetworks::Cifar10,
            )
        });
        c.train.batch_size = 32;
        c.preprocess.image_size = Some(32);
        c.preprocess.scaling = oddity::data::preprocess::Scaling::GcnL1;
        c
    };
    assert_learns(with(5, 5), 0.93);
    assert_round_trip(with(1, 1), "roundtrip-deep-svdd-cifar10");
}

/// Deep SAD (`{"objective": "deep-sad"}`) on the bundled digit-3 images with 5 % labelled
/// anomalies (14 images of other digits from the training split), the Deep SVDD test's budget.
/// Measured, Deep SAD / Deep SVDD on the same split (seeds 0–2): 0.9344 / 0.7775, 0.9623 /
/// 0.7817, 0.9212 / 0.8537 (digit 5: 0.918 / 0.827, digit 8: 0.914 / 0.876, seed 0); floor
/// 0.88, and the labels must help: Deep SAD above Deep SVDD by 0.03. The saved run scores as
/// the trained one under both checkpoints.
#[test]
fn deep_sad_learns_from_labelled_anomalies() {
    let mut c = config(
        "deep-svdd",
        builtin_mnist(),
        Protocol::OneClass { class: "3".into() },
        0,
        30,
    );
    if let Some(d) = c.model.get_mut::<oddity::models::DeepSvddConfig>() {
        d.pretrain_epochs = 15;
        d.svdd_epochs = 15;
        d.learning_rate = 1e-3;
        d.batch_size = 32;
    }
    c.train.batch_size = 32;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::GcnL1;
    let (svdd, split) = train(c.clone());
    let svdd_auroc = test_auroc(&svdd, &split);
    c.model
        .get_mut::<oddity::models::DeepSvddConfig>()
        .unwrap()
        .objective = oddity::models::deep_svdd::Objective::DeepSad;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("--labelled-anomalies"), "{e}");
    c.split.labelled_anomalies = Some(LabelledAnomalies::Share(0.05));
    let (mut sad, split) = train(c);
    assert_eq!(split.labelled.as_ref().map(|l| l.len()), Some(14));
    let sad_auroc = test_auroc(&sad, &split);
    eprintln!("deep-sad: measured AUROC {sad_auroc:.4} (deep-svdd {svdd_auroc:.4})");
    assert!(sad_auroc > 0.88, "AUROC {sad_auroc} under the floor 0.88");
    assert!(
        sad_auroc > svdd_auroc + 0.03,
        "Deep SAD {sad_auroc} does not beat Deep SVDD {svdd_auroc} by 0.03"
    );
    assert_saved_run_scores_alike(&mut sad, &split, "deep-sad");
}

/// OC-SVM (ν 0.1, γ "scale", fitted in closed form) on ADBench breastw, tabular protocol,
/// standardised. Measured: AUROC 0.9883 / 0.9932 / 0.9841 (seeds 0–2: the split changes, the
/// solver does not); floor 0.97. The saved run scores the same after loading.
#[test]
fn ocsvm_learns_adbench_table() {
    let c = config(
        "ocsvm",
        spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz")),
        Protocol::Tabular,
        0,
        1,
    );
    assert_learns_and_round_trips(c, 0.97, "roundtrip-ocsvm");
}

/// GOAD with the official Arrhythmia settings (256 random affine maps to 32 dimensions, one
/// trunk layer of width 8, 1 epoch) on the ODDS Arrhythmia fixture, tabular protocol,
/// standardised. Measured: AUROC 0.8067 / 0.8003 / 0.7859 (seeds 0–2; the official code on its
/// own split: 0.768 over seeds 0–9); floor 0.72. The saved run scores the
/// same after loading (the random maps are part of the checkpoint).
#[test]
fn goad_learns_arrhythmia() {
    let mut c = config(
        "goad",
        spec(DatasetKind::Adbench, fixture("arrhythmia/arrhythmia.npz")),
        Protocol::Tabular,
        0,
        1,
    );
    c.model = oddity::models::ModelConfig::new(oddity::models::GoadConfig::official(
        oddity::models::goad::GoadPreset::Arrhythmia,
    ));
    assert_learns_and_round_trips(c, 0.72, "roundtrip-goad");
}

/// GOAD's image form (the official CIFAR-10 settings: GEOM's transformations, the code's
/// WRN, margin 0.1, feature penalty 10, batches of 4 images, BatchNorm on running statistics
/// from epoch 2) on the bundled digit-3 images, one-class, scaled to [−1, 1]: a WRN-10-1 at
/// 16 × 16 with shifts of 4 px (the paper: WRN-10-4, 32 × 32, 8 px), 2 epochs over 100
/// training images, 300 test images. Measured: AUROC 0.7489 / 0.8415 / 0.7464 (seeds 0–2;
/// 150 images: 0.7527 / 0.8440 / 0.7586 at twice the time); floor 0.70. The saved run scores the same after loading (the centres are part of the
/// checkpoint).
#[test]
fn goad_learns_mnist_one_class() {
    let mut c = config(
        "goad",
        builtin_mnist(),
        Protocol::OneClass { class: "3".into() },
        0,
        2,
    );
    c.model = oddity::models::ModelConfig::new(oddity::models::GoadConfig {
        widen: 1,
        image_size: 16,
        shift: 4,
        epochs: 2,
        ..oddity::models::GoadConfig::official(oddity::models::goad::GoadPreset::Cifar10)
    });
    c.preprocess.image_size = Some(16);
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c.split.max_train = Some(100);
    c.split.max_test = Some(300);
    let (mut trained, split) = train(c);
    let auroc = test_auroc(&trained, &split);
    eprintln!("goad: measured AUROC {auroc:.4}");
    assert!(auroc > 0.70, "AUROC {auroc} under the floor 0.70");
    assert_saved_run_scores_alike(&mut trained, &split, "goad-images");
}

/// GEOM on the bundled digit-3 images, one-class, scaled to [−1, 1] as the code: a WRN-10-1
/// at 16 × 16 with shifts of 4 px (the paper: WRN-10-4, 32 × 32, 8 px), 1 epoch over the 72
/// transformations of 150 training images, Dirichlet score, 300 test images. Measured: AUROC
/// 0.8768 / 0.8711 / 0.8422 (seeds 0–2; 0.9325 on all 270 training images); floor 0.78. The
/// saved run scores the same after loading (the fitted Dirichlets are part of the checkpoint).
#[test]
fn geom_learns_mnist_one_class() {
    let mut c = config(
        "geom",
        builtin_mnist(),
        Protocol::OneClass { class: "3".into() },
        0,
        1,
    );
    if let Some(g) = c.model.get_mut::<oddity::models::GeomConfig>() {
        g.widen = 1;
        g.image_size = 16;
        g.shift = 4;
    }
    c.preprocess.image_size = Some(16);
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c.split.max_train = Some(150);
    c.split.max_test = Some(300);
    let (mut trained, split) = train(c);
    let auroc = test_auroc(&trained, &split);
    eprintln!("geom: measured AUROC {auroc:.4}");
    assert!(auroc > 0.78, "AUROC {auroc} under the floor 0.78");
    assert_saved_run_scores_alike(&mut trained, &split, "geom");
}

/// OCGAN on the bundled digit-3 images, one-class, scaled to [−1, 1] as the code: depth 2
/// (29 × 29; the code's default is 3 at 61 × 61), encoder and classifier width 32, visual
/// discriminator width 8, batch 32, 30 epochs with informative-negative mining in the last 7,
/// 300 test images. Measured: AUROC 0.8810 / 0.9062 / 0.8207 (seeds 0–2; 12 epochs at width 16
/// gave 0.79 / 0.55 / 0.80); floor 0.78. The saved run scores the same after loading.
#[test]
fn ocgan_learns_mnist_one_class() {
    let mut c = config(
        "ocgan",
        builtin_mnist(),
        Protocol::OneClass { class: "3".into() },
        0,
        30,
    );
    let o = c.model.get_mut::<oddity::models::OcganConfig>().unwrap();
    o.depth = 2;
    o.base_width = 32;
    o.discriminator_width = 8;
    o.batch_size = 32;
    o.mining_from_epoch = 24;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c.split.max_test = Some(300);
    let (mut trained, split) = train(c);
    let auroc = test_auroc(&trained, &split);
    eprintln!("ocgan: measured AUROC {auroc:.4}");
    assert!(auroc > 0.78, "AUROC {auroc} under the floor 0.78");
    assert_saved_run_scores_alike(&mut trained, &split, "ocgan");
}

/// adVAE on ADBench breastw (min-max scaled, as the official code), tabular protocol, its
/// default 50 epochs, with the notebook's threshold rule `kde:0.9`. Measured (last epoch):
/// AUROC 0.9936 / 0.9949 / 0.9871 (seeds 0–2); floor 0.95. The threshold is the 0.9-quantile
/// of the KDE of the *training* split's scores under the same weights, and the saved run
/// scores the same after loading.
#[test]
fn advae_learns_adbench_table_with_a_kde_threshold() {
    let mut c = config(
        "advae",
        spec(DatasetKind::Adbench, fixture("adbench/4_breastw.npz")),
        Protocol::Tabular,
        0,
        50,
    );
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinMax;
    c.threshold_rule = "kde:0.9".parse().unwrap();
    let (mut trained, split) = train(c);
    let auroc = test_auroc(&trained, &split);
    eprintln!("advae on breastw: measured AUROC {auroc:.4}");
    assert!(auroc > 0.95, "advae: AUROC {auroc} under the floor 0.95");
    let train_scores =
        run::score_raw(&trained.run, trained.detector.as_ref(), &split.train).unwrap();
    let kde = oddity::threshold::kde::Kde::fit(
        &train_scores,
        oddity::threshold::kde::Bandwidth::Silverman,
    )
    .unwrap();
    assert_eq!(
        trained.run.thresholds.last.value,
        kde.quantile(0.9).unwrap()
    );
    let flagged = train_scores
        .iter()
        .filter(|&&s| s as f64 >= trained.run.thresholds.last.value)
        .count() as f64
        / train_scores.len() as f64;
    assert!(
        (0.03..0.2).contains(&flagged),
        "flags {flagged} of the training scores"
    );
    assert_saved_run_scores_alike(&mut trained, &split, "roundtrip-advae");
}

/// RSRAE's contaminated protocol on the bundled MNIST subset: the 100 test images of digit 1
/// plus 50 drawn from the other digits (c = 0.5), trained on and scored as one set, inputs to
/// [−1, 1] then unit norm (the model), 20 epochs.
fn contaminated_digit_one() -> oddity::run::RunConfig {
    let mut c = config(
        "rsrae",
        builtin_mnist(),
        Protocol::Contaminated { class: "1".into() },
        0,
        20,
    );
    c.split.contamination = Some(0.5);
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c
}

/// RSRAE (the alternating steps) on [`contaminated_digit_one`]. Measured (last epoch): AUROC
/// 0.9604 / 0.9294 / 0.9294 (seeds 0–2); floor 0.85. The saved run scores the same after
/// loading.
#[test]
fn rsrae_learns_contaminated_mnist() {
    let c = contaminated_digit_one();
    assert_learns_and_round_trips(c, 0.85, "roundtrip-rsrae");
}

/// RSRAE+ (one Adam step on the weighted sum of the losses, `{"optimisation": "joint"}`) on
/// [`contaminated_digit_one`]. Measured (last epoch): AUROC 0.9536 / 0.9460 / 0.9540 (seeds
/// 0–2); floor 0.85. The saved run scores the same after loading.
#[test]
fn rsrae_plus_learns_contaminated_mnist() {
    let mut c = contaminated_digit_one();
    c.model
        .get_mut::<oddity::models::RsraeConfig>()
        .expect("an RSRAE configuration")
        .optimisation = oddity::models::rsrae::RsrOptimisation::Joint;
    assert_learns_and_round_trips(c, 0.85, "roundtrip-rsrae-plus");
}

/// The bundled digit-1 images (one-class), inputs to [−1, 1], batches of 16 for enough steps at
/// this size.
fn mnist_digit_one(model: &str, epochs: usize) -> oddity::run::RunConfig {
    let mut c = config(
        model,
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        epochs,
    );
    c.train.batch_size = 16;
    c.preprocess.scaling = oddity::data::preprocess::Scaling::MinusOneToOne;
    c
}

/// Constrained AAE on digit 1, 6 epochs. Measured (last epoch): AUROC 0.9762 / 0.9418 / 0.9544
/// (seeds 0–2; 4 epochs: 0.9647 / 0.8832 / 0.9161, too near the floor); floor 0.88. The saved
/// run scores the same after loading.
#[test]
fn constrained_aae_learns_mnist_one_class() {
    assert_learns_and_round_trips(
        mnist_digit_one("constrained-aae", 6),
        0.88,
        "roundtrip-constrained-aae",
    );
}

/// MLP-ALAE on digit 1, 6 epochs, pixel reconstruction score. Measured (last epoch): AUROC
/// 0.9781 / 0.9836 / 0.9513 (seeds 0–2; 10 epochs: 0.9660 / 0.9308 / 0.9731); floor 0.88. The
/// saved run scores the same after loading.
#[test]
fn alae_learns_mnist_one_class() {
    assert_learns_and_round_trips(mnist_digit_one("alae", 6), 0.88, "roundtrip-alae");
}

fn scores_of(trained: &run::Trained, split: &oddity::data::protocol::Split) -> Vec<f32> {
    run::score_raw(&trained.run, trained.detector.as_ref(), &split.test).unwrap()
}

/// Same seed, data and device → identical scores; another seed → different scores.
#[test]
fn same_seed_same_scores() {
    let small = |seed| {
        let mut c = config(
            "ganomaly",
            builtin_mnist(),
            Protocol::LeaveOneOut { class: "3".into() },
            seed,
            1,
        );
        c.split.max_train = Some(192);
        c.split.max_test = Some(128);
        c
    };
    let (a, split) = train(small(4));
    let (b, _) = train(small(4));
    let (c, split_c) = train(small(5));
    assert_eq!(scores_of(&a, &split), scores_of(&b, &split));
    assert_ne!(scores_of(&a, &split), scores_of(&c, &split_c));
}

/// The trained run, saved and loaded again, scores the first test samples (see [`probe`])
/// exactly as in memory under both checkpoints, with the same thresholds and configuration.
/// Leaves the best weights loaded in `trained`.
fn assert_saved_run_scores_alike(
    trained: &mut run::Trained,
    split: &oddity::data::protocol::Split,
    tag: &str,
) {
    let root = temp_dir(tag);
    let dir = root.join("run");
    trained.save(&dir).unwrap();
    let probe = probe(split);
    let in_memory = |trained: &run::Trained| {
        run::score_raw(&trained.run, trained.detector.as_ref(), &probe).unwrap()
    };
    let in_memory_last = in_memory(trained);
    let loaded = Run::load(&dir).unwrap();
    let device = common::device();
    let last = loaded.detector(Checkpoint::Last, &device).unwrap();
    assert_eq!(
        run::score_raw(&loaded, last.as_ref(), &probe).unwrap(),
        in_memory_last
    );
    trained
        .detector
        .load_weights(trained.checkpoints.best.clone())
        .unwrap();
    let best = loaded.detector(Checkpoint::Best, &device).unwrap();
    assert_eq!(
        run::score_raw(&loaded, best.as_ref(), &probe).unwrap(),
        in_memory(trained)
    );
    assert_eq!(loaded.thresholds, trained.run.thresholds);
    assert_eq!(loaded.config, trained.run.config);
}

/// The first 64 test samples (or all, if fewer): a weight or state lost on the way to disk
/// moves practically every score, so these tell a faithful reload from a lossy one at a
/// fraction of the scoring (the image-transformation models score each image 72 times).
fn probe(split: &oddity::data::protocol::Split) -> oddity::data::Samples {
    let test = &split.test;
    let n = test.len().min(64);
    let d = test.shape.len();
    oddity::data::Samples::unlabelled(test.shape, test.values[..n * d].to_vec())
}

/// Train `c`, then [`assert_saved_run_scores_alike`].
fn assert_round_trip(c: oddity::run::RunConfig, tag: &str) {
    let (mut trained, split) = train(c);
    assert_saved_run_scores_alike(&mut trained, &split, tag);
}

#[test]
fn ganomaly_checkpoint_round_trip_gives_identical_scores() {
    let mut c = config(
        "ganomaly",
        builtin_mnist(),
        Protocol::LeaveOneOut { class: "7".into() },
        1,
        2,
    );
    c.split.max_train = Some(96);
    c.split.max_test = Some(64);
    assert_round_trip(c, "roundtrip-ganomaly");
}

/// EGBAD saves its trained and averaged weights; scoring uses the average.
#[test]
fn egbad_checkpoint_round_trip_gives_identical_scores() {
    let mut c = egbad_kdd(3);
    c.split.max_test = Some(400);
    assert_round_trip(c, "roundtrip-egbad");
}

/// EGBAD on the KDD99 fixture with a short-run configuration: lr 1e-4 (paper 1e-5) and a
/// moving average of decay 0.99 (paper 0.9999, which over ~300 steps would still be the
/// initial weights).
fn egbad_kdd(epochs: usize) -> oddity::run::RunConfig {
    let mut c = config(
        "egbad",
        spec(DatasetKind::Kdd99, fixture("kddcup99")),
        Protocol::Kdd99,
        0,
        epochs,
    );
    if let Some(e) = c.model.get_mut::<oddity::models::EgbadConfig>() {
        e.learning_rate = 1e-4;
        e.ema_decay = Some(0.99);
    }
    c
}

/// What a GAN-family run on data that even an untrained network separates must show besides
/// its AUROC: the discriminator loss `"d"` of the first, the last and the lowest epoch.
struct DiscriminatorRun {
    auroc: f64,
    first: f64,
    last: f64,
    lowest: f64,
}

/// Train `config` and measure a [`DiscriminatorRun`].
fn discriminator_run(config: oddity::run::RunConfig) -> DiscriminatorRun {
    let what = format!("{} on {:?}", config.model.name(), config.dataset.path);
    let (trained, split) = train(config);
    let auroc = test_auroc(&trained, &split);
    let d: Vec<f64> = trained
        .run
        .log
        .epochs
        .iter()
        .map(|e| e.losses["d"])
        .collect();
    let run = DiscriminatorRun {
        auroc,
        first: d[0],
        last: *d.last().unwrap(),
        lowest: d.iter().copied().fold(f64::INFINITY, f64::min),
    };
    eprintln!(
        "{what}: AUROC {auroc:.4}, L_D {:.3} (first) → {:.3} (last), lowest {:.3}",
        run.first, run.last, run.lowest
    );
    run
}

/// EGBAD, 10 epochs on the KDD99 fixture. On KDD99 even an untrained BiGAN's L1 residual
/// separates the classes (AUROC ≈ 0.979 after one epoch at lr 1e-5), so the floor alone cannot
/// tell training from none: the discriminator's loss must also fall from its chance value.
/// Measured: AUROC 0.9825, L_D 1.283 (epoch 1) → 0.378 (epoch 10); floors 0.95 and ×0.7.
#[test]
fn egbad_learns_kdd99() {
    let r = discriminator_run(egbad_kdd(10));
    assert!(r.auroc > 0.95, "AUROC {}", r.auroc);
    assert!(r.last < 0.7 * r.first, "the discriminator did not learn");
}

/// AnoGAN on the KDD99 fixture with a short-run configuration: lr 1e-4 (paper 2e-4 for its
/// images), batch 50, and a 100-step search (paper 500).
fn anogan_kdd(epochs: usize) -> oddity::run::RunConfig {
    let mut c = config(
        "anogan",
        spec(DatasetKind::Kdd99, fixture("kddcup99")),
        Protocol::Kdd99,
        0,
        epochs,
    );
    if let Some(a) = c.model.get_mut::<oddity::models::AnoganConfig>() {
        a.learning_rate = 1e-4;
        a.batch_size = 50;
        a.search.steps = 100;
    }
    c
}

/// AnoGAN, 10 epochs on the KDD99 fixture. As for EGBAD, KDD99 is separable by the search's
/// residual even with untrained networks (AUROC 0.978 after one epoch at lr 1e-7), so the
/// discriminator's loss must also fall. Measured: AUROC 0.972, L_D 1.345 → 0.914; floors 0.93
/// and ×0.8.
#[test]
fn anogan_learns_kdd99() {
    let r = discriminator_run(anogan_kdd(10));
    assert!(r.auroc > 0.93, "AUROC {}", r.auroc);
    assert!(r.last < 0.8 * r.first, "the discriminator did not learn");
}

#[test]
fn anogan_checkpoint_round_trip_gives_identical_scores() {
    let mut c = anogan_kdd(2);
    c.split.max_test = Some(300);
    assert_round_trip(c, "roundtrip-anogan");
    // The ALAD repository's variant: dropout in D and a moving average of G, saved with it.
    let mut c = anogan_kdd(2);
    c.split.max_test = Some(300);
    if let Some(a) = c.model.get_mut::<oddity::models::AnoganConfig>() {
        a.table_dropout = 0.2;
        a.ema_decay = Some(0.9);
        a.prior = oddity::models::anogan::LatentPrior::Normal;
    }
    assert_round_trip(c, "roundtrip-anogan-averaged");
}

/// ALAD on the KDD99 fixture, short-run configuration (lr 3e-4, moving average 0.99, no early
/// stopping). As for EGBAD, the floor alone cannot tell training from none on KDD99, so the
/// discriminators' summed loss must fall too. Measured: AUROC 0.981, L_D 4.329 (epoch 1) →
/// 3.593 (epoch 5); floors 0.95 and ×0.9.
#[test]
fn alad_learns_kdd99() {
    let mut c = config(
        "alad",
        spec(DatasetKind::Kdd99, fixture("kddcup99")),
        Protocol::Kdd99,
        0,
        10,
    );
    if let Some(a) = c.model.get_mut::<oddity::models::AladConfig>() {
        a.learning_rate = 3e-4;
        a.ema_decay = Some(0.99);
    }
    c.train.patience = None;
    let r = discriminator_run(c);
    assert!(r.auroc > 0.95, "AUROC {}", r.auroc);
    assert!(r.lowest < 0.9 * r.first, "the discriminators did not learn");
}

/// ALAD with its official Arrhythmia networks (latent 64, E 256 → 128, D_xx 256 → 128, D_zz
/// 64 → 32) on the Arrhythmia fixture, tabular protocol, 20 epochs of a short-run configuration
/// (lr 3e-4, moving average 0.99). Measured: AUROC 0.795, L_D 4.151 (epoch 1) → 3.722 (min);
/// floors 0.70 and ×0.95.
#[test]
fn alad_learns_arrhythmia_with_its_networks() {
    let mut c = config(
        "alad",
        spec(DatasetKind::Adbench, fixture("arrhythmia/arrhythmia.npz")),
        Protocol::Tabular,
        0,
        20,
    );
    c.model = oddity::models::ModelConfig::new(oddity::models::AladConfig {
        learning_rate: 3e-4,
        ema_decay: Some(0.99),
        ..oddity::models::AladConfig::official(oddity::models::alad::AladNetworks::Arrhythmia)
    });
    c.train.batch_size = 32;
    c.train.patience = None;
    let r = discriminator_run(c);
    assert!(r.auroc > 0.70, "AUROC {}", r.auroc);
    assert!(
        r.lowest < 0.95 * r.first,
        "the discriminators did not learn"
    );
}

#[test]
fn alad_checkpoint_round_trip_gives_identical_scores() {
    let mut c = config(
        "alad",
        spec(DatasetKind::Kdd99, fixture("kddcup99")),
        Protocol::Kdd99,
        2,
        2,
    );
    c.split.max_test = Some(300);
    assert_round_trip(c, "roundtrip-alad");
}

/// The training loop keeps the best epoch by validation loss, computed on validation data only.
#[test]
fn best_epoch_is_the_lowest_validation_loss() {
    let c = config(
        "autoencoder",
        spec(DatasetKind::Adbench, fixture("adbench/42_WBC.npz")),
        Protocol::Tabular,
        0,
        8,
    );
    let (trained, _) = train(c);
    let log = &trained.run.log;
    let min = log
        .epochs
        .iter()
        .map(|e| {
            e.validation_loss
                .expect("every autoencoder epoch validates")
        })
        .fold(f64::INFINITY, f64::min);
    assert_eq!(log.epochs[log.best_epoch - 1].validation_loss, Some(min));
}

/// f-AnoGAN with its spectrally normalised critic survives a save/load round trip with
/// identical scores (its power-iteration state must be saved too): one short epoch of each
/// stage on a small slice of the bundled subset. The other image models' round trips are in
/// their learning tests.
#[test]
fn fanogan_with_spectral_norm_round_trips() {
    let mut c = config(
        "fanogan",
        builtin_mnist(),
        Protocol::OneClass { class: "1".into() },
        0,
        2,
    );
    if let Some(f) = c.model.get_mut::<oddity::models::FanoganConfig>() {
        f.width = 4;
        f.gan_epochs = 1;
        f.encoder_epochs = 1;
        f.spectral_norm = true;
    }
    c.split.max_train = Some(64);
    c.split.max_test = Some(32);
    assert_round_trip(c, "roundtrip-fanogan-spectral");
}

/// Every model refuses data it has no networks for, with an error naming the model, instead
/// of failing inside a layer.
#[test]
fn models_reject_shapes_they_cannot_take() {
    use oddity::data::SampleShape;
    let device = common::device();
    let table = SampleShape::Table { features: 5 };
    let odd_image = SampleShape::Image {
        channels: 1,
        height: 20,
        width: 20,
    };
    for (model, shape) in [
        ("ganomaly", table),
        ("adae", table),
        ("skip-ganomaly", table),
        ("alocc", table),
        ("fanogan", table),
        ("egbad", odd_image),
        ("alad", odd_image),
        ("anogan", odd_image),
        ("ganomaly", odd_image),
    ] {
        let config = oddity::models::ModelConfig::default_for(model).unwrap();
        let err = match config.build(shape, &device, 0) {
            Ok(_) => panic!("{model} accepted {shape}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(model), "{model} on {shape}: {err}");
    }
}
