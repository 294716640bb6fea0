"""PyOD's ``BaseDetector`` interface over oddity's models, and runs loaded from disk.

The meanings follow PyOD's ``pyod.models.base.BaseDetector``:

- ``fit(X)`` trains on every row of ``X`` (labels are not used; a ``validation_size`` share is
  held out for early stopping and calibration) and sets ``decision_scores_`` (the scores of
  ``X``), ``threshold_`` (the ``100·(1 − contamination)`` th percentile of them) and ``labels_``
  (``decision_scores_ > threshold_``);
- ``decision_function(X)``: anomaly scores, higher is more abnormal;
- ``predict(X)``: ``decision_function(X) > threshold_`` as 0/1;
- ``predict_proba(X, method="linear" | "unify")``: min-max scaling by the training scores, or
  Kriegel et al.'s unified (erf) scores; columns ``[P(inlier), P(outlier)]``;
- ``predict_confidence(X)``: Perini et al.'s ExCeeD confidence, as PyOD computes it.

oddity adds conformal p-values (``p_value(X)``) and ``predict(X, false_alarm_rate=α)``, which
flags ``p ≤ α`` so that normal data are flagged at rate at most α — no contamination guess.
The p-values are calibrated on the held-out share of ``X``: if ``X`` holds outliers, so does
that share, and the p-values of normal samples come out larger (conservative: fewer false
alarms than α, and fewer detections).

Differences from PyOD, on purpose: each model's default epochs and layer sizes are its paper's
(or oddity's documented baseline's), not PyOD's; PyOD arguments with no counterpart are
refused rather than ignored, and one setting given twice (``epoch_num`` and ``epochs``,
``lr`` and ``model_config["learning_rate"]``) with two values is an error. ``predict`` compares
with ``>`` as PyOD does; a :class:`RunModel` (and the command line, and the server) flags
``score ≥ threshold``. ``fit`` and :func:`train` train on a thread of their own and stop after
the current step on Ctrl-C (``KeyboardInterrupt``); scoring holds the GIL. A model must be
used from the thread that made it (another thread gets a ``RuntimeError``).
"""

import copy
import inspect
import json
import math
import numbers
import threading

import numpy as np

from . import _native


def _samples(X, name="X"):
    """``X`` as a C-contiguous float32 array of shape (n, features) or (n, channels, h, w).

    Raises ``ValueError`` naming the problem: not numbers, wrong number of dimensions, no
    sample, a value that is not finite (or overflows float32).
    """
    if hasattr(X, "toarray"):
        raise ValueError(f"{name} is a sparse matrix; pass a dense array (X.toarray())")
    array = np.asarray(X)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got a 1-D array of {array.shape[0]}: "
            "use X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample"
        )
    if array.ndim == 3:  # grey images (n, height, width)
        array = array[:, None, :, :]
    if array.ndim not in (2, 4):
        raise ValueError(
            f"{name} must be (n_samples, n_features) or images (n, channels, height, width), "
            f"got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} holds no sample")
    if 0 in array.shape[1:]:
        raise ValueError(f"{name} has an empty sample shape {array.shape[1:]}")
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below, by position
        values = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} holds a value that is not finite in float32 at {where}: "
            f"{array[where]!r}"
        )
    return values


def _batch_of(X, shape, name="X", taker="the detector was fitted on"):
    """``X`` as a batch of samples of ``shape`` (checked by :func:`_samples`), or an error
    naming both shapes; one image on its own, (height, width) for a grey ``shape`` or
    ``shape`` itself for a colour one, is told how to become a batch of one."""
    given = np.shape(X) if not hasattr(X, "toarray") else None  # sparse: `_samples` says so
    shape = tuple(shape)
    wanted = f"(n, {', '.join(map(str, shape))})"
    grey = len(shape) == 3 and shape[0] == 1
    if len(shape) == 3 and given == (shape[1:] if grey else shape):
        raise ValueError(
            f"{name}: one image of shape {given}, not a batch: pass a batch of shape {wanted} "
            f"(X[None] makes a batch of one image X)"
        )
    values = _samples(X, name=name)
    found = tuple(values.shape[1:])
    if found != shape:
        if len(shape) == 1 and len(found) == 1:
            raise ValueError(f"{name} has {found[0]} features; {taker} {shape[0]}")
        also = f", or (n, {shape[1]}, {shape[2]}) for grey images" if grey else ""
        raise ValueError(f"{name}: shape {given} does not fit; {taker} {wanted}{also}")
    return values


def _real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _whole(value):
    """``value`` as an int when it is a whole number (``3``, ``np.int64(3)``, ``3.0``); a
    ``ValueError`` otherwise (``2.7`` is not truncated, ``True`` is not 1)."""
    if isinstance(value, (bool, np.bool_)) or not _real(value):
        raise ValueError(f"must be a whole number, got {value!r}")
    if isinstance(value, (int, np.integer)):  # exact, however large (float() would overflow)
        return int(value)
    if not float(value).is_integer():
        raise ValueError(f"must be a whole number, got {value!r}")
    return int(value)


def _count(name, value, largest=2**63 - 1, least=1):
    """``value`` as an int when it is a whole number (``3``, ``np.int64(3)``, ``3.0``) from
    ``least`` to ``largest``; a ``ValueError`` naming ``name`` otherwise (``2.5`` is not
    truncated, ``True`` is not 1)."""
    try:
        whole = _whole(value)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
    if not least <= whole <= largest:
        raise ValueError(f"{name} must be from {least} to {largest}, got {value!r}")
    return whole


def _flag(name, value):
    """``value`` as a bool when it is one (``"no"`` is not taken as True); a ``ValueError``
    naming ``name`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _verbosity(value):
    """``verbose`` as a bool (print progress or not): True, False, or PyOD's levels 0, 1, 2;
    a ``ValueError`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value >= 0:
        return value > 0
    raise ValueError(f"verbose must be True, False or a level 0, 1, 2, …, got {value!r}")


def _rate(name, value):
    """``value`` as a float when it is a finite real number (its range is the caller's to
    check); a ``ValueError`` naming ``name`` otherwise."""
    if not _real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _seed(value, name="random_state"):
    """``value`` as a seed: a whole number from 0 to 2⁶⁴ − 1; a ``ValueError`` naming
    ``name`` otherwise."""
    return _count(name, value, largest=2**64 - 1, least=0)


def _same_setting(earlier, value, convert):
    """Whether ``earlier`` (from ``model_config`` or another argument) is ``value``, both read
    by ``convert`` (so that ``2.0`` is ``2`` and a NumPy array is its list)."""
    try:
        earlier = convert(earlier)
    except (TypeError, ValueError):
        return False
    return earlier == value


def _unchanged(earlier, value):
    """Whether a parameter set again keeps its value (the same object, or an equal plain
    value of the same type)."""
    if earlier is value:
        return True
    try:
        return type(earlier) is type(value) and bool(earlier == value)
    except (TypeError, ValueError):  # an array's elementwise comparison
        return False


def _without_other_aliases(merged, params, aliases):
    """``merged`` parameters with the alias of each name in ``params`` set to ``None`` (unless
    ``params`` gives it too)."""
    for pair in aliases:
        for name, other in (pair, pair[::-1]):
            if name in params and other not in params and merged.get(other) is not None:
                merged[other] = None
    return merged


def _json_value(value):
    """NumPy numbers and arrays in a settings dict as JSON takes them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a setting of type {type(value).__name__} ({value!r}) is not a JSON value")


def _settings_json(settings, name="model_config"):
    """``settings`` as a JSON object; a value JSON cannot hold (NaN, infinity, an object) is a
    ``ValueError`` naming ``name``."""
    try:
        return json.dumps(settings, default=_json_value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: {error}") from None


def _check_rate(rate):
    """``rate`` as a float when it is a false-alarm rate in (0, 1); a ``ValueError``
    otherwise."""
    if not (_real(rate) and 0 < rate < 1):
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {rate!r}")
    return float(rate)


def _false_alarm_threshold(native, rate):
    """The score threshold of ``p ≤ rate`` on ``native``'s calibration scores (a score is
    flagged exactly when it reaches it); a ``ValueError`` when ``rate`` is not in (0, 1) or
    is too small for the calibration set to flag anything at that rate."""
    return native.false_alarm_threshold(_check_rate(rate))


def _refuse_unit_pixels(array, name):
    """Refuse a boolean array, or a float array of images whose values all lie in [0, 1]
    (torchvision's scaling): oddity's image runs take pixels 0–255, as image files hold
    them."""
    if array.dtype == np.bool_:
        raise ValueError(f"{name} must hold pixel values 0–255, got a boolean array")
    if np.issubdtype(array.dtype, np.floating) and array.size:
        largest = np.nanmax(array) if not np.isnan(array).all() else np.nan
        if 0.0 < largest <= 1.0 and np.nanmin(array) >= 0.0:
            raise ValueError(
                f"{name} look like [0, 1] pixels (largest value {largest}); pass them 0–255, "
                "as image files hold them (images * 255)"
            )


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _binom_cdf(k, n, p):
    """P(Binomial(n, p) ≤ k) for each p, in log space (no SciPy needed)."""
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    i = np.arange(0, k + 1)
    log_comb = log_fact[n] - log_fact[i] - log_fact[n - i]
    out = np.empty(len(p))
    for j, pj in enumerate(np.asarray(p, dtype=float)):
        if pj <= 0.0:
            out[j] = 1.0
            continue
        if pj >= 1.0:
            out[j] = 1.0 if k >= n else 0.0
            continue
        terms = log_comb + i * math.log(pj) + (n - i) * math.log1p(-pj)
        top = terms.max()
        out[j] = min(1.0, math.exp(top) * np.exp(terms - top).sum())
    return out


class _Scoring:
    """What every fitted or loaded model does with new samples."""

    _native_model = None
    _native_thread = None

    def _hold(self, native):
        """Keep ``native``, made on this thread (the only one that may use it)."""
        self._native_model = native
        self._native_thread = threading.current_thread()

    def _fitted(self):
        if self._native_model is None:
            raise ValueError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first"
            )
        if threading.current_thread() is not self._native_thread:
            raise RuntimeError(
                f"this {type(self).__name__} was made on another thread: an oddity model is "
                "used from the thread that made it; make or load one in each thread"
            )
        return self._native_model

    # What the error for samples of another shape says takes them.
    _taker = "the detector was fitted on"

    def _values(self, X):
        """The fitted native model and ``X`` checked against it."""
        native = self._fitted()
        self._check_units(X)
        return native, _batch_of(X, native.input_shape, taker=self._taker)

    def _check_units(self, X):
        """Nothing to check: a detector fitted on arrays takes them in its fit's units."""

    def _scores(self, X):
        native, values = self._values(X)
        return np.asarray(native.score(values.tobytes()), dtype=np.float64)

    def p_value(self, X):
        """Conformal p-values of ``X`` against the normal validation scores of the fit: a
        normal sample gets ``p ≤ α`` with probability at most α."""
        scores = self._scores(X)
        return np.asarray(self._fitted().p_values(scores.astype(np.float32).tolist()))

    def anomaly_map(self, X):
        """Anomaly maps of images ``X`` (n, channels, h, w) or (n, h, w): (n, h, w) at the
        model's input resolution. A ``ValueError`` for models without maps."""
        native, values = self._values(X)
        maps, height, width = native.maps(values.tobytes())
        return np.asarray(maps, dtype=np.float32).reshape(len(values), height, width)


class BaseDetector(_Scoring):
    """PyOD's detector interface over one of oddity's models (see the module's doc).

    Parameters
    ----------
    contamination : float in (0, 0.5]
        The share of outliers expected in the training data: ``threshold_`` is the
        ``100·(1 − contamination)`` th percentile of ``decision_scores_``.
    epochs, batch_size : int, optional
        The model's training budget (default: its paper's). ``epoch_num`` is PyOD 2's name.
    random_state : int, optional
        Seeds the weights, the shuffles and the hold-out: same seed and data, same scores.
        ``None`` draws a fresh seed (kept in ``random_state_``).
    validation_size : float in (0, 1)
        Share of ``X`` held out from training for early stopping and the calibration of
        p-values (0.1).
    preprocessing : bool
        Scale the samples as the model's paper does (True: the model's own default scaling,
        fitted on the training rows where it has statistics: standardise for most models'
        tables, min-max for adVAE and HADGAN; images 0-255 as the loaders give them, mapped to
        ``[-1, 1]`` for a tanh-output model such as the VAE; ``oddity models`` lists each) or
        leave them as they are (False).
    model_config : dict, optional
        Any of the model's hyper-parameters by its oddity name.
    verbose : int
        1 or more prints each epoch.
    """

    _model = None
    _renames = {}
    _fixed = {}
    # Pairs of parameter names for one setting (PyOD 2's and 1's): set_params of one clears
    # the other, so that a grid over either works whichever the constructor was given.
    _aliases = (("epochs", "epoch_num"),)

    def __init__(self, contamination=0.1, epochs=None, batch_size=None, random_state=None,
                 validation_size=0.1, preprocessing=True, model_config=None, verbose=0,
                 epoch_num=None, **pyod_arguments):
        # Every parameter is kept as given, under its own name (scikit-learn's convention:
        # clone checks their identity, and an assigned attribute is what fit uses).
        self.contamination = contamination
        self.epochs = epochs
        self.epoch_num = epoch_num  # PyOD 2's name for epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.validation_size = validation_size
        self.preprocessing = preprocessing
        self.model_config = model_config
        self.verbose = verbose
        for key in pyod_arguments:
            if key not in self._renames and key not in self._fixed:
                raise TypeError(f"{type(self).__name__}() got an unexpected argument {key!r}")
        for key, value in pyod_arguments.items():
            setattr(self, key, value)
        self._native_model = None
        self._resolve()

    @classmethod
    def _signature_names(cls):
        """The named parameters of the constructors from ``cls`` up to this class."""
        names = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or not issubclass(klass, BaseDetector):
                continue
            for parameter in inspect.signature(klass.__init__).parameters.values():
                if parameter.name != "self" and parameter.kind in (
                    parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY
                ) and parameter.name not in names:
                    names.append(parameter.name)
        return names

    def _param_names(self):
        """Every parameter: the constructors' named ones and the PyOD arguments given to the
        constructor or assigned since."""
        names = self._signature_names()
        return names + [key for key in vars(self)
                        if (key in self._renames or key in self._fixed) and key not in names]

    def _pyod_names(self):
        """The parameters beyond this class's own: PyOD's names, mapped onto oddity's."""
        own = set(BaseDetector._signature_names()) | {"model"}
        return [name for name in self._param_names() if name not in own]

    def _resolve(self):
        """Check every parameter and derive the settings ``fit`` trains with (the epochs and
        oddity's hyper-parameters); run by the constructor, by ``set_params`` and again by
        ``fit`` (a parameter may have been assigned in between, as scikit-learn allows)."""
        epochs, epochs_name = self.epochs, "epochs"
        if self.epoch_num is not None:
            _count("epoch_num", self.epoch_num)
            if epochs is not None and epochs != self.epoch_num:
                raise ValueError(
                    f"epoch_num={self.epoch_num!r} and epochs={epochs!r} are both given; they "
                    "name the same setting: give one"
                )
            epochs, epochs_name = self.epoch_num, "epoch_num"
        if self.model_config is not None and not isinstance(self.model_config, dict):
            raise ValueError(f"model_config must be a dict, got {self.model_config!r}")
        settings = dict(self.model_config or {})
        given_by = {key: "model_config" for key in settings}
        for key in self._pyod_names():
            value = getattr(self, key)
            if key in self._renames:
                target, convert = self._renames[key]
                if value is None:
                    continue
                try:
                    value = convert(value)
                except (TypeError, ValueError) as error:
                    raise ValueError(f"{key} {error}") from None
                if target in given_by and not _same_setting(settings[target], value, convert):
                    raise ValueError(
                        f"{key}={value!r} and {given_by[target]} both set oddity's "
                        f"{target!r} ({settings[target]!r}); give it once"
                    )
                settings[target] = value
                given_by[target] = key
            elif key in self._fixed:
                allowed = self._fixed[key]
                if value not in allowed:
                    raise ValueError(
                        f"{key}={value!r}: oddity's {self._model} has no such choice (it is "
                        f"{allowed[0]!r}); leave it out or use one of {allowed!r}"
                    )
        for key, value in settings.items():
            source = given_by[key] if given_by[key] != "model_config" else f"model_config[{key!r}]"
            if _real(value) and not math.isfinite(value):
                raise ValueError(f"{source} must be a finite number, got {value!r}")
            _settings_json(value, source)  # NaN or infinity inside a list, an object
        self._check_params(epochs, epochs_name, settings)
        self._epochs, self._settings = epochs, settings

    def _check_params(self, epochs, epochs_name, settings):
        """Refuse parameters out of range, given the resolved ``epochs`` (given as
        ``epochs_name``) and ``settings``."""
        contamination, validation_size = self.contamination, self.validation_size
        if not (_real(contamination) and 0.0 < contamination <= 0.5):
            raise ValueError(f"contamination must be in (0, 0.5], got {contamination!r}")
        if not (_real(validation_size) and 0.0 < validation_size < 1.0):
            raise ValueError(f"validation_size must be in (0, 1), got {validation_size!r}")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if value is not None:
                _count(name, value)
        for name, given, given_as in (("epochs", epochs, epochs_name),
                                      ("batch_size", self.batch_size, "batch_size")):
            if given is not None and name in settings and settings[name] != given:
                raise ValueError(
                    f"{given_as}={given!r} and model_config[{name!r}]={settings[name]!r} "
                    "set the same setting; give it once"
                )
        _verbosity(self.verbose)
        if not isinstance(self.preprocessing, (bool, np.bool_)):
            raise ValueError(
                f"preprocessing must be True (the model's own scaling) or False (none), got "
                f"{self.preprocessing!r}"
            )
        if self.random_state is not None:
            _seed(self.random_state)

    def get_params(self, deep=True):
        """Every constructor parameter with its current value (scikit-learn's convention, so
        that ``sklearn.base.clone`` and grid searches work)."""
        return {name: getattr(self, name) for name in self._param_names()}

    # Parameters that do not change a trained model: setting them keeps the fit (a new
    # contamination recomputes threshold_ and labels_ from decision_scores_).
    _after_fit = ("contamination", "verbose")

    def set_params(self, **params):
        """Set parameters (scikit-learn's convention); unknown names and values out of range
        are errors that change nothing. A fitted detector forgets its fit when a parameter of
        the training changes (fit it again); a new ``contamination`` recomputes ``threshold_``
        and ``labels_``."""
        known = self._param_names()
        valid = set(known) | set(self._renames) | set(self._fixed)
        for key in params:
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r}; valid ones are {sorted(valid)}")
        current = {key: getattr(self, key, None) for key in set(known) | set(params)}
        updates = _without_other_aliases({**current, **params}, params, self._aliases)
        updates = {key: value for key, value in updates.items()
                   if key in params or value is not current[key]}
        changed = {key for key, value in updates.items() if not _unchanged(current[key], value)}
        trial = copy.copy(self)
        trial.__dict__.update(updates)
        trial._resolve()  # raises before this detector changes
        if changed - set(self._after_fit):
            self._forget_fit()
        self.__dict__.update(updates)
        self._resolve()
        if "contamination" in changed and hasattr(self, "decision_scores_"):
            self._process_decision_scores()
        return self

    def _forget_fit(self):
        for attribute in ("decision_scores_", "threshold_", "labels_", "random_state_",
                          "n_features_in_", "_mu", "_sigma"):
            self.__dict__.pop(attribute, None)
        self._native_model = None

    def fit(self, X, y=None):
        """Train on every row of ``X`` (``y`` is ignored: unsupervised) and set
        ``decision_scores_``, ``threshold_``, ``labels_``. Returns ``self``."""
        self._resolve()
        values = _samples(X)
        if values.shape[0] < 2:
            raise ValueError("fit needs at least 2 samples (one to train, one to validate)")
        seed = self.random_state
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        self.random_state_ = _seed(seed)
        self._hold(_native.fit(
            self._model,
            values.tobytes(),
            list(values.shape[1:]),
            _settings_json(self._settings),
            self.random_state_,
            None if self._epochs is None else int(self._epochs),
            None if self.batch_size is None else int(self.batch_size),
            float(self.validation_size),
            None if self.preprocessing else "none",
            _verbosity(self.verbose),
        ))
        self.n_features_in_ = values.shape[1] if values.ndim == 2 else None
        self.decision_scores_ = self._scores(values)
        self._process_decision_scores()
        return self

    def _process_decision_scores(self):
        self.threshold_ = float(
            np.percentile(self.decision_scores_, 100 * (1 - self.contamination))
        )
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int).ravel()
        self._mu = float(np.mean(self.decision_scores_))
        self._sigma = float(np.std(self.decision_scores_))
        return self

    def _check_fitted(self):
        for attribute in ("decision_scores_", "threshold_", "labels_"):
            if not hasattr(self, attribute):
                raise ValueError(
                    f"this {type(self).__name__} is not fitted yet; call fit(X) first"
                )

    def decision_function(self, X):
        """Anomaly scores of ``X``: higher is more abnormal."""
        return self._scores(X)

    def predict(self, X, return_confidence=False, false_alarm_rate=None):
        """0 (inlier) / 1 (outlier): ``decision_function(X) > threshold_``; with
        ``false_alarm_rate=α``, ``p_value(X) ≤ α`` instead (normal data flagged at rate at
        most α). With ``return_confidence``, also ``predict_confidence(X)``."""
        self._check_fitted()
        if false_alarm_rate is None:
            prediction = (self.decision_function(X) > self.threshold_).astype(int).ravel()
        else:
            if return_confidence:
                raise ValueError(
                    "return_confidence is the confidence of the contamination threshold's "
                    "labels (ExCeeD), not of false_alarm_rate's: ask for one of them"
                )
            threshold = _false_alarm_threshold(self._fitted(), false_alarm_rate)
            prediction = (self.decision_function(X) >= threshold).astype(int)
        if return_confidence:
            return prediction, self.predict_confidence(X)
        return prediction

    def predict_proba(self, X, method="linear", return_confidence=False):
        """``[P(inlier), P(outlier)]`` per row: ``linear`` scales scores by the training
        scores' min and max (clipped to [0, 1]); ``unify`` is ``erf((s − μ)/(σ√2))`` clipped,
        μ and σ of the training scores."""
        self._check_fitted()
        scores = self.decision_function(X)
        probs = np.zeros((len(scores), 2))
        if method == "linear":
            low, high = self.decision_scores_.min(), self.decision_scores_.max()
            span = high - low if high > low else 1.0
            probs[:, 1] = ((scores - low) / span).clip(0, 1)
        elif method == "unify":
            sigma = self._sigma if self._sigma > 0 else 1.0
            probs[:, 1] = _erf((scores - self._mu) / (sigma * np.sqrt(2))).clip(0, 1)
        else:
            raise ValueError(f"{method!r} is not a valid probability conversion method; "
                             "use 'linear' or 'unify'")
        probs[:, 0] = 1 - probs[:, 1]
        if return_confidence:
            return probs, self.predict_confidence(X)
        return probs

    def predict_confidence(self, X):
        """Each prediction's confidence in [0, 1] (Perini, Vercruyssen and Davis, ExCeeD,
        ECML-PKDD 2020), as PyOD computes it."""
        self._check_fitted()
        n = len(self.decision_scores_)
        scores = self.decision_function(X)
        ranked = np.sort(self.decision_scores_)
        at_or_below = np.searchsorted(ranked, scores, side="right")
        posterior = (1 + at_or_below) / (2 + n)
        confidence = 1 - _binom_cdf(n - int(n * self.contamination), n, posterior)
        prediction = (scores > self.threshold_).astype(int)
        confidence[prediction == 0] = 1 - confidence[prediction == 0]
        return confidence

    def fit_predict(self, X, y=None):
        """``fit(X)``, then ``labels_``."""
        return self.fit(X, y).labels_

    def save(self, path, replace=False):
        """Write the fitted model as an oddity run folder ``path``: the command line scores,
        serves and reports it, and :func:`load` reads it back. ``path`` must not exist, unless
        ``replace`` and it holds an oddity run (replaced whole once the new one is written; a
        folder holding files oddity did not write is never replaced). Its threshold is
        ``threshold_``, stored as the next float above it so that the command line's ``score ≥
        threshold`` flags exactly what ``predict``'s ``score > threshold_`` flags."""
        self._check_fitted()
        self._fitted().save(str(path), float(np.nextafter(self.threshold_, np.inf)),
                            _flag("replace", replace))

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


class Detector(BaseDetector):
    """Any of oddity's models by name, with PyOD's interface: ``Detector("alad", ...)``."""

    def __init__(self, model="autoencoder", **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def _resolve(self):
        if self.model not in _native.models():
            raise ValueError(f"unknown model {self.model!r}; oddity has {_native.models()}")
        self._model = self.model
        super()._resolve()


class RunModel(_Scoring):
    """A run folder trained by the command line (or saved from Python), loaded for scoring.

    ``decision_function``, ``p_value``, ``anomaly_map`` and ``predict`` take samples in the
    run's raw units (images channels first, 0–255 as the image files hold them: a float array
    of a run's images whose values all lie in [0, 1] is refused, not scored as near-black).
    """

    _taker = "the run was trained on"

    def __init__(self, native):
        self._hold(native)
        # Read once, so that they (and repr) answer on any thread.
        self._name = native.model
        self._threshold = native.threshold
        self._input_shape = tuple(native.input_shape)
        self._pixels_from_files = native.pixels_from_files

    def _check_units(self, X):
        if self._pixels_from_files:
            _refuse_unit_pixels(np.asarray(X), "images")

    @property
    def model(self):
        """The detector's name."""
        return self._name

    @property
    def threshold(self):
        """The run's threshold (its rule on its normal validation scores)."""
        return self._threshold

    @property
    def input_shape(self):
        """The raw shape of one sample."""
        return self._input_shape

    def decision_function(self, X):
        """Anomaly scores, as ``oddity score`` computes them."""
        return self._scores(X)

    def predict(self, X, false_alarm_rate=None):
        """1 where the score reaches the run's threshold (as ``oddity score`` flags), or with
        ``false_alarm_rate=α`` where the p-value is at most α."""
        if false_alarm_rate is None:
            return (self.decision_function(X) >= self.threshold).astype(int)
        threshold = _false_alarm_threshold(self._fitted(), false_alarm_rate)
        return (self.decision_function(X) >= threshold).astype(int)

    def __repr__(self):
        return f"RunModel(model={self.model!r}, input_shape={self.input_shape})"


def load(path, checkpoint="best"):
    """Load the run folder ``path`` (weights ``best`` or ``last``) as a :class:`RunModel`."""
    return RunModel(_native.load(str(path), checkpoint))


def train(model, dataset, data, out, protocol, class_name=None, epochs=None, random_state=0,
          model_config=None, decode_size=None, replace=False, verbose=False,
          contamination=None):
    """Train ``model`` on a data set on disk, as ``oddity train`` does (same formats and
    protocols: ``train("autoencoder", "mnist", "data/mnist", "runs/m1", "one-class", "1")``),
    into the new run folder ``out`` (an existing run there is replaced only with
    ``replace=True``, as ``--force`` does); returns it loaded as a :class:`RunModel`.
    ``contamination`` is the ``contaminated`` protocol's outliers per inlier (``--contamination``;
    not PyOD's threshold share: the run's threshold is its own rule)."""
    seed = _seed(random_state)
    epochs = None if epochs is None else _count("epochs", epochs)
    decode_size = None if decode_size is None else _count("decode_size", decode_size, 2**32 - 1)
    native = _native.train(
        model, dataset, str(data), protocol, None if class_name is None else str(class_name),
        str(out), _settings_json(model_config or {}), seed, epochs, decode_size,
        None if contamination is None else _rate("contamination", contamination),
        _flag("replace", replace), _verbosity(verbose),
    )
    return RunModel(native)


def model_names():
    """The name of every model oddity has (``oddity.models`` is the package of PyOD-named
    classes, as ``pyod.models``)."""
    return list(_native.models())
