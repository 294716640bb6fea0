//! A model's training state restores exactly: a fresh model given the state of one trained
//! for a few steps takes its next steps to the same weights, bit for bit (parameter
//! identities, optimizer moments, random generators, moving averages, kept batches and
//! BatchNorm statistics all come back). This is what `oddity train --resume` relies on.

mod common;

use burn::prelude::*;
use common::{shape_for, small};
use oddity::models::ModelConfig;

/// Train `config` a few steps, restore its state into a fresh model (given the same labelled
/// anomalies, which are data, not state) and step both on.
fn restores_exactly(name: &str, config: &ModelConfig, labelled: bool) {
    let started = std::time::Instant::now();
    let device = oddity::device::parse("cpu").unwrap();
    let train_device = device.clone().autodiff();
    let shape = shape_for(config);
    let d = shape.len();
    let rows = |k: usize, n: usize| -> Vec<f32> {
        (0..n * d)
            .map(|i| (((i + k) * 7919) % 211) as f32 / 105.0 - 1.0)
            .collect()
    };
    let batch =
        |k: usize| Tensor::<2>::from_data(TensorData::new(rows(k, 8), [8, d]), &train_device);
    let build = |seed| {
        let mut model = config.build(shape, &device, seed).unwrap();
        if labelled {
            let mut pool = oddity::data::Samples::empty(shape);
            pool.values = rows(99, 3);
            pool.labels = vec![1; 3];
            model.take_labelled_anomalies(pool, 8).unwrap();
        }
        model
    };
    let mut original = build(3);
    for k in 0..3 {
        original.train_step(batch(k)).unwrap();
    }
    let state = original
        .training_state()
        .unwrap()
        .unwrap_or_else(|| panic!("{name} cannot resume"));
    let bytes = state.to_bytes();
    let state = oddity::nn::TrainingState::from_bytes(&bytes).unwrap();
    let mut restored = build(4);
    restored.restore_training_state(&state).unwrap();
    for k in 5..8 {
        original.train_step(batch(k)).unwrap();
        restored.train_step(batch(k)).unwrap();
    }
    assert!(
        original.save_weights().unwrap() == restored.save_weights().unwrap(),
        "{name} on {shape}: the restored model stepped elsewhere"
    );
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_restored_training_state_steps_as_the_original() {
    let mut cases: Vec<(String, ModelConfig, bool)> = oddity::models::MODELS
        .iter()
        .map(|info| {
            let config = small(info.name);
            let labelled = config.needs_labelled_anomalies();
            (info.name.to_string(), config, labelled)
        })
        .collect();
    // CAVGA-Dw draws its labelled anomalies with its own generator.
    let mut weak = small("cavga");
    weak.get_mut::<oddity::models::CavgaConfig>()
        .unwrap()
        .supervision = oddity::models::cavga::Supervision::Weak;
    cases.push(("cavga (weak)".into(), weak, true));
    // Deep SAD draws its labelled anomalies with its own generator too.
    let mut sad = small("deep-svdd");
    sad.get_mut::<oddity::models::DeepSvddConfig>()
        .unwrap()
        .objective = oddity::models::deep_svdd::Objective::DeepSad;
    cases.push(("deep-svdd (deep-sad)".into(), sad, true));
    // OCGAN's informative-negative mining draws its codes from the model's generator.
    let mut mining = small("ocgan");
    mining
        .get_mut::<oddity::models::OcganConfig>()
        .unwrap()
        .mining_from_epoch = 1;
    cases.push(("ocgan (mining)".into(), mining, false));
    // The models are independent: two threads share them (CI has two cores; most of these
    // models are too small for the backend to keep both busy alone).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, config, labelled)) = cases.get(i) else {
                        break;
                    };
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        restores_exactly(name, config, *labelled)
                    }));
                    if outcome.is_err() {
                        failed.lock().unwrap().push(name.clone());
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    assert!(
        failed.is_empty(),
        "did not restore exactly (messages above): {failed:?}"
    );
}
