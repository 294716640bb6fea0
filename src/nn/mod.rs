//! Blocks two or more models share — networks (DCGAN, MLP, BiGAN dense blocks, the Wide ResNet
//! of the transformation classifiers), the geometric transformations, spectral normalisation, dropout, moving averages of weights, gradient penalties — with losses, optimizers, seeded
//! initialisation, and the weights and training states every detector saves. A network only
//! one model uses lives in that model's folder (`tests/architecture.rs` checks both ways).

pub mod bigan;
pub mod dcgan;
pub mod dense;
pub mod dropout;
pub mod ema;
pub mod geometric;
pub mod init;
pub mod levels;
pub mod loss;
pub mod mlp;
pub mod optim;
pub mod penalty;
pub mod spectral;
pub mod state;
pub mod statistics;
pub mod weights;
pub mod wide_resnet;

pub use bigan::{
    JointDiscriminator, JointDiscriminatorConfig, PairDiscriminator, PairDiscriminatorConfig,
};
pub use dcgan::{
    DcganAutoencoder, DcganDecoder, DcganDecoderConfig, DcganEncoder, DcganEncoderConfig,
};
pub use ema::Ema;
pub use init::{InitScheme, initialise};
pub use mlp::{Mlp, MlpConfig};
pub use optim::NetOptimizer;
pub use state::{Trainables, TrainablesMut, TrainingState};
pub use weights::{Weights, module_from_bytes, module_to_bytes};
pub use wide_resnet::{WideResNet, WrnStyle};
