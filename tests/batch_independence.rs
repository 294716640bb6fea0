//! A score does not depend on its batch: for every detector, scoring a sample alone equals
//! scoring it inside a batch of others, at another position (to float tolerance). Scores are
//! taken in evaluation mode (BatchNorm with its running statistics), as `score` and `eval` do.

use burn::prelude::*;
mod common;

use common::{shape_for, small};

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn every_detector_scores_a_sample_as_it_scores_it_in_a_batch() {
    let device = oddity::device::parse("cpu").unwrap();
    for info in oddity::models::MODELS {
        let config = small(info.name);
        let shape = shape_for(&config);
        let detector = config.build(shape, &device, 5).unwrap();
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
            let tolerance = 1e-4 * together[i].abs().max(1.0);
            assert!(
                (alone - together[i]).abs() <= tolerance,
                "{}: sample {i} alone {alone}, in a batch {}",
                info.name,
                together[i]
            );
            assert!(
                (reversed[n - 1 - i] - together[i]).abs() <= tolerance,
                "{}: sample {i} at another position {}, in order {}",
                info.name,
                reversed[n - 1 - i],
                together[i]
            );
        }
    }
}
