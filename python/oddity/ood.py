"""The out-of-distribution target from Python: a run trained by ``oddity ood train`` (or
:func:`train`), loaded.

Its classifier names each new image's class; its scores (MSP, ODIN, energy, Mahalanobis, and the
generative ones when trained) say how in-distribution the image is, higher = more; a verdict
refuses an image at a stated false-alarm rate::

    from oddity.ood import load_ood, train
    run = train("mnist", "data/mnist", "runs/ood-mnist")   # or load_ood("runs/ood-mnist")
    run.predict(images)                       # class names
    run.scores(images)["mahalanobis"]         # higher = more in-distribution
    run.is_out_of_distribution(images)        # p ≤ 0.05 against the validation images
    run.p_value(images, score="msp")

``images`` are (n, channels, height, width), or grey (n, height, width), with pixels 0–255 as
image files hold them (a float array whose values all lie in [0, 1], torchvision's
``ToTensor`` range, is refused rather than read as near-black images), of the run's image shape.
The verdicts are calibrated on the run's validation images' scores, which training stores in
the run; for a run trained before they were stored, the first verdict reads the run's training
data again and scores them (kept for later calls).
"""

import threading

import numpy as np

from . import _native
from .base import _batch_of, _check_rate, _count, _flag, _refuse_unit_pixels, _seed, _settings_json

DEFAULT_SCORE = _native.DEFAULT_OOD_SCORE


class OodModel:
    """A loaded OOD run (see the module's doc). Made by :func:`load_ood` or :func:`train`; used
    from the thread that made it."""

    def __init__(self, native):
        self._native = native
        self._thread = threading.current_thread()
        self.classes_ = list(native.class_names)
        self.score_names = list(native.score_names)
        self.image_shape = tuple(native.image_shape)
        self.test_accuracy = native.test_accuracy

    def _images(self, X):
        if threading.current_thread() is not self._thread:
            raise RuntimeError(
                "this OodModel was loaded on another thread: load one in each thread"
            )
        array = np.asarray(X)
        _refuse_unit_pixels(array, "images")
        values = _batch_of(array, self.image_shape, "images", "the run's classifier takes")
        return self._native, values.tobytes()

    def _check_verdict(self, score, false_alarm_rate):
        if not isinstance(score, str) or score not in self.score_names:
            raise ValueError(f"score {score!r}: the run's scores are {', '.join(self.score_names)}")
        _check_rate(false_alarm_rate)

    def predict(self, X):
        """Each image's most probable class name."""
        native, data = self._images(X)
        return np.asarray([self.classes_[c] for c in native.classes(data)])

    def scores(self, X):
        """Every score of each image, ``{name: array}``; higher = more in-distribution."""
        native, data = self._images(X)
        _, columns = native.score(data)
        return {
            name: np.asarray(column, dtype=np.float64)
            for name, column in zip(self.score_names, columns)
        }

    def _verdicts(self, X, score, false_alarm_rate):
        self._check_verdict(score, false_alarm_rate)
        native, data = self._images(X)
        p_values, flagged = native.verdicts(data, score, float(false_alarm_rate))
        return np.asarray(p_values), np.asarray(flagged, dtype=bool)

    def p_value(self, X, score=DEFAULT_SCORE):
        """Conformal p-values of ``score`` against the run's validation images' scores: an
        in-distribution image gets ``p ≤ α`` with probability about α at most."""
        return self._verdicts(X, score, 0.5)[0]

    def is_out_of_distribution(self, X, score=DEFAULT_SCORE, false_alarm_rate=0.05):
        """Whether each image is refused: its p-value at most ``false_alarm_rate``."""
        return self._verdicts(X, score, false_alarm_rate)[1]

    def __repr__(self):
        return (
            f"OodModel(classes={len(self.classes_)}, image_shape={self.image_shape}, "
            f"test_accuracy={self.test_accuracy:.4f})"
        )


def load_ood(path):
    """Load the OOD run folder ``path`` (``oddity ood train --out path``)."""
    return OodModel(_native.load_ood(str(path)))


def train(dataset, data, out, classes=None, classifier=None, validation=1000, max_train=None,
          random_state=0, generative=None, decode_size=None, replace=False):
    """Train an OOD run as ``oddity ood train`` does with its defaults: a classifier of the
    labelled images of ``dataset`` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``,
    ``"image-folder"``, ``"builtin-mnist"``) at ``data``, on ``classes`` (a list of names, or
    of indices where no class is named by a number, or a comma-separated string; all by
    default), into the new run folder ``out`` (an existing OOD run there is replaced only with
    ``replace=True``, as ``--force`` does); ``classifier`` and ``generative`` are settings dicts
    over the defaults (``generative={}`` adds the generative scores with theirs). Every score
    setting is chosen on in-distribution data only. Returns the run loaded (:class:`OodModel`).

    The command line's other options (ODIN's temperature, the FGSM step, outlier exposure, the
    device) keep their defaults here. Ctrl-C stops the training after the step in progress
    (``KeyboardInterrupt``; nothing is written to ``out``)."""
    for name, value in (("classifier", classifier), ("generative", generative)):
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{name} must be a dict of settings, got {value!r}")
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",")]
    elif classes is not None and not isinstance(classes, (list, tuple, np.ndarray)):
        raise ValueError(
            f"classes must be a list of class names (or indices), or a comma-separated string; "
            f"got {classes!r}"
        )
    classes = [] if classes is None else [str(c) for c in list(classes)]

    validation = _count("validation", validation, least=2)
    random_state = _seed(random_state)
    max_train = None if max_train is None else _count("max_train", max_train)
    if decode_size is not None:
        decode_size = _count("decode_size", decode_size, 2**32 - 1)
    native = _native.ood_train(
        dataset, str(data), str(out), classes,
        _settings_json(classifier, "classifier") if classifier else "", validation, max_train,
        random_state, None if generative is None else _settings_json(generative, "generative"),
        decode_size, _flag("replace", replace),
    )
    return OodModel(native)
