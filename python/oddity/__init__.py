"""oddity: deep anomaly detection (Rust), with PyOD's detector interface.

Table models speak PyOD's ``BaseDetector`` API::

    from oddity import AutoEncoder          # or: from oddity.models.auto_encoder import AutoEncoder
    clf = AutoEncoder(epoch_num=20, contamination=0.1, random_state=0)
    clf.fit(X_train)
    clf.decision_scores_, clf.threshold_, clf.labels_
    clf.decision_function(X_test), clf.predict(X_test), clf.predict_proba(X_test)
    clf.p_value(X_test)                      # conformal p-values (oddity's addition)

Runs trained by the ``oddity`` command line (images included) load with :func:`load`; an
out-of-distribution run (``oddity ood train``, or :func:`oddity.ood.train`) with
:func:`load_ood` (:mod:`oddity.ood`).
"""

from . import _native
from .base import BaseDetector, Detector, RunModel, load, model_names, train
from .models.alad import ALAD
from .models.anogan import AnoGAN
from .models.auto_encoder import AutoEncoder
from .models.egbad import EGBAD
from .models.vae import VAE
from .ood import OodModel, load_ood

__version__ = _native.__version__

__all__ = [
    "ALAD",
    "AnoGAN",
    "AutoEncoder",
    "BaseDetector",
    "Detector",
    "EGBAD",
    "OodModel",
    "RunModel",
    "load",
    "load_ood",
    "model_names",
    "train",
    "VAE",
]
