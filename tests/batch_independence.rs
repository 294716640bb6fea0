//! A score does not depend on its batch: for every detector, scoring a sample alone gives the
//! same bits as scoring it inside a batch of others, at another position. Scores are taken in
//! evaluation mode (BatchNorm with its running statistics), as `score` and `eval` do. Tables
//! have 600 features, so that a dense layer sums more than 512 inputs (where the CPU matrix
//! product's summation order follows the batch's size unless `nn::dense` pads it).

use burn::prelude::*;
mod common;

use common::{shape_for, small};

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn every_detector_scores_a_sample_as_it_scores_it_in_a_batch() {
    let device = oddity::device::parse("cpu").unwrap();
    let mut differing = Vec::new();
    for info in oddity::models::MODELS {
        let config = small(info.name);
        let shape = match shape_for(&config) {
            oddity::data::SampleShape::Table { .. } => {
                oddity::data::SampleShape::Table { features: 600 }
            }
            image => image,
        };
        let detector = config.build(shape, &device, 5).unwrap();
        if detector.scores_whole_scenes() {
            // Local RX scores a pixel against its neighbours: batches are no question for it.
            continue;
        }
        assert!(
            !detector.scores_depend_on_the_batch(),
            "{}: says its scores depend on the batch",
            info.name
        );
        let n = 6;
        let d = shape.len();
        let data: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 211) as f32 / 105.0 - 1.0)
            .collect();
        let batch = Tensor::<2>::from_data(TensorData::new(data.clone(), [n, d]), &device);
        let together = values(detector.score(batch));
        // Each sample alone, and the batch reversed (every sample at another position).
        let mut reversed = Vec::with_capacity(n * d);
        for i in (0..n).rev() {
            reversed.extend_from_slice(&data[i * d..(i + 1) * d]);
        }
        let reversed = values(detector.score(Tensor::<2>::from_data(
            TensorData::new(reversed, [n, d]),
            &device,
        )));
        for i in 0..n {
            let one = Tensor::<2>::from_data(
                TensorData::new(data[i * d..(i + 1) * d].to_vec(), [1, d]),
                &device,
            );
            let alone = values(detector.score(one))[0];
            if alone.to_bits() != together[i].to_bits() {
                differing.push(format!(
                    "{}: sample {i} alone {alone}, in a batch {}",
                    info.name, together[i]
                ));
            }
            if reversed[n - 1 - i].to_bits() != together[i].to_bits() {
                differing.push(format!(
                    "{}: sample {i} at another position {}, in order {}",
                    info.name,
                    reversed[n - 1 - i],
                    together[i]
                ));
            }
        }
    }
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

/// GANomaly's official scoring (BatchNorm on the scored batch's statistics) is a named option:
/// with it a sample's score depends on its batch, as documented, and scoring leaves the trained
/// running statistics untouched.
#[test]
fn ganomaly_batch_statistics_are_an_option_that_leaves_the_model_as_it_was() {
    let device = oddity::device::parse("cpu").unwrap();
    let mut config = small("ganomaly");
    if let Some(g) = config.get_mut::<oddity::models::GanomalyConfig>() {
        g.batch_statistics_at_score = true;
    }
    let shape = shape_for(&config);
    let mut detector = config.build(shape, &device, 5).unwrap();
    assert!(detector.scores_depend_on_the_batch(), "and it says so");
    // So does the wrapper that scores it tile by tile (the server asks the wrapper).
    let oddity::data::SampleShape::Image {
        channels,
        height,
        width,
    } = shape
    else {
        panic!("GANomaly takes images")
    };
    let larger = oddity::data::SampleShape::Image {
        channels,
        height: 2 * height,
        width: 2 * width,
    };
    let tiling = oddity::data::tiles::Tiling {
        tile: height,
        stride: height,
    };
    let tiled = oddity::score::tiled::build(&config, larger, Some(tiling), &device, 5).unwrap();
    assert!(
        tiled.scores_depend_on_the_batch(),
        "the tiled wrapper hides it"
    );
    let d = shape.len();
    let data: Vec<f32> = (0..6 * d)
        .map(|i| ((i * 7919) % 211) as f32 / 105.0 - 1.0)
        .collect();
    let train_batch = Tensor::<2>::from_data(
        TensorData::new(data.clone(), [6, d]),
        &device.clone().autodiff(),
    );
    detector.train_step(train_batch).unwrap();
    let weights = detector.save_weights().unwrap();
    let batch = Tensor::<2>::from_data(TensorData::new(data.clone(), [6, d]), &device);
    let together = values(detector.score(batch));
    let pair = Tensor::<2>::from_data(TensorData::new(data[..2 * d].to_vec(), [2, d]), &device);
    let in_a_pair = values(detector.score(pair));
    assert!(
        (in_a_pair[0] - together[0]).abs() > 1e-6 * together[0].abs(),
        "batch statistics should make the score depend on the batch: {} vs {}",
        in_a_pair[0],
        together[0]
    );
    assert!(
        detector.save_weights().unwrap() == weights,
        "scoring moved the running statistics"
    );
}
