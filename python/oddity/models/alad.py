"""the Adversarially Learned Anomaly Detection BiGAN (Zenati et al., ICDM 2018), with PyOD's detector interface."""

from ..base import BaseDetector


class ALAD(BaseDetector):
    """the Adversarially Learned Anomaly Detection BiGAN (Zenati et al., ICDM 2018).

    epochs/epoch_num, batch_size, random_state, contamination and
    verbose as in PyOD; any of the model's hyper-parameters by its oddity name
    (oddity models lists them), e.g. ALAD(model_config={"learning_rate": 1e-4}).
    """

    _model = "alad"
