"""Training a model by gradient descent, and measuring what it learned.

One training step is the whole round trip the library builds up to: run the model forward on a
batch, measure the loss, run it backward to get every parameter's gradient, and let the
optimizer nudge the parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_positive_int, check_real
from .losses import softmax_cross_entropy
from .optim import Adam, Optimizer

__all__ = ["Model", "TrainingHistory", "accuracy", "attention_match", "train"]


@runtime_checkable
class Model(Protocol):
    """What :func:`~simple_attention.train` and :func:`~simple_attention.accuracy` need of a model.

    Any object with these four members will do (a :class:`~simple_attention.TinyAttentionModel`
    has them all); it need not derive from this class.

    * ``model(ids)`` maps token ids ``(batch, n)`` to logits ``(batch, n, vocab_size)``;
    * ``model.backward(grad_logits)`` runs the backward pass of the last call;
    * ``model.params`` are the parameters by name, the arrays themselves (updated in place);
    * ``model.grads`` are their gradients after ``backward``, under the same names.

    Optional: ``model.embedding.vocab_size`` and ``model.positions.max_len``, if present, let
    :func:`~simple_attention.train` check the ids before training; ``model.weights``, if present,
    is recorded for the snapshots.

    Examples
    --------
    The smallest model that fits: a table of logits per token, trained to copy its input.

    >>> import numpy as np
    >>> from simple_attention import SGD, accuracy, train
    >>> class Lookup:
    ...     def __init__(self, vocab_size):
    ...         self.table = np.zeros((vocab_size, vocab_size))
    ...         self.params = {"table": self.table}
    ...         self.grads = {}
    ...     def __call__(self, ids):
    ...         self.ids = np.asarray(ids)
    ...         return self.table[self.ids]
    ...     def backward(self, grad_logits):
    ...         grad = np.zeros_like(self.table)
    ...         np.add.at(grad, self.ids, grad_logits)
    ...         self.grads = {"table": grad}
    >>> ids = np.array([[0, 1, 2], [2, 1, 0]])
    >>> model = Lookup(3)
    >>> history = train(model, ids, ids, optimizer=SGD(model.params, lr=1.0), steps=20, rng=0)
    >>> accuracy(model, ids, ids)
    1.0
    """

    def __call__(self, ids: np.ndarray) -> np.ndarray: ...

    def backward(self, grad_out: np.ndarray) -> Any: ...

    @property
    def params(self) -> dict[str, np.ndarray]: ...

    @property
    def grads(self) -> dict[str, np.ndarray]: ...


@dataclass
class TrainingHistory:
    """What :func:`~simple_attention.train` recorded.

    Attributes
    ----------
    losses : list of float
        The training loss of every step's batch, before that step's update.
    snapshot_steps : list of int
        The steps at which the attention weights were recorded (``0`` = before training).
    snapshots : list of ndarray, shape (n, n)
        The attention weights on the probe sequences at those steps, averaged over the probe
        sequences.

    Examples
    --------
    >>> from simple_attention import TinyAttentionModel, reverse_task, train
    >>> task = reverse_task(n_train=50, n_test=0, length=3, vocab_size=4, rng=0)
    >>> model = TinyAttentionModel(vocab_size=4, max_len=3, d_model=8, rng=0)
    >>> history = train(model, task.train_inputs, task.train_targets, steps=20, rng=0,
    ...                 snapshot_steps=[0, 10, 20])
    >>> len(history.losses), history.snapshot_steps
    (20, [0, 10, 20])
    >>> history.snapshots[-1].shape
    (3, 3)
    """

    losses: list[float] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)


def train(
    model: Model,
    inputs: npt.ArrayLike,
    targets: npt.ArrayLike,
    *,
    optimizer: Optimizer | None = None,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 0.005,
    rng: int | np.random.Generator | None = None,
    snapshot_steps: Iterable[int] = (),
    probe: npt.ArrayLike | None = None,
) -> TrainingHistory:
    """Train ``model`` on batches drawn at random from ``inputs`` and ``targets``.

    Parameters
    ----------
    model : Model
        Any object with the interface of :class:`~simple_attention.training.loop.Model` (a
        :class:`~simple_attention.TinyAttentionModel`, for one); updated in place.
    inputs, targets : array_like of int, shape (n_sequences, n)
        Token ids in and the expected token ids out.
    optimizer : SGD or Adam, optional
        The optimizer, built on ``model.params``; by default ``Adam(model.params, lr=lr)``.
    steps : int, default 300
        Number of updates.
    batch_size : int, default 32
        Sequences per update.
    lr : float, default 0.005
        The learning rate of the default Adam optimizer (ignored when ``optimizer`` is given).
    rng : None, int or numpy.random.Generator, optional
        Source of the batches. Together with the model's initial weights it fixes the run: the
        same model seed and the same ``rng`` give the same losses and weights.
    snapshot_steps : iterable of int, optional
        Record the attention weights on ``probe`` after these steps (``0`` = before the first
        update); steps beyond ``steps`` are ignored.
    probe : array_like of int, shape (n_probe, n), optional
        The sequences for the snapshots; defaults to the first 64 of ``inputs``.

    Returns
    -------
    TrainingHistory

    Raises
    ------
    TypeError
        If ``model`` lacks the interface of :class:`~simple_attention.training.loop.Model`,
        ``optimizer`` is not an
        :class:`~simple_attention.SGD` or :class:`~simple_attention.Adam`, ``inputs``,
        ``targets`` or ``probe`` are not integer token ids, ``steps``, ``batch_size`` or a
        snapshot step is not an integer, ``lr`` is not a real number, or ``snapshot_steps`` is
        not an iterable.
    ValueError
        If ``inputs`` is empty (no sequences, or sequences of no tokens) or not 2-D, ``targets``
        does not have its shape, an id lies outside ``[0, vocab_size)``, the sequences of
        ``inputs`` or ``probe`` are longer than the model's ``max_len``, ``steps`` or
        ``batch_size`` is not positive, ``lr`` is not positive and finite, or a snapshot step
        is negative, or ``optimizer`` was not built on the arrays of ``model.params``. All
        arguments are checked before the model is touched.
    FloatingPointError, ValueError
        If training diverges (an overflow in the forward pass, or a NaN gradient). The model's
        parameters are then restored to their values before the call, so a failed call leaves
        the model as it was (an interrupt, ``KeyboardInterrupt``, keeps what was trained so
        far).

    Examples
    --------
    >>> from simple_attention import TinyAttentionModel, reverse_task, train
    >>> task = reverse_task(n_train=500, n_test=100, length=4, vocab_size=5, rng=0)
    >>> model = TinyAttentionModel(vocab_size=5, max_len=4, d_model=16, rng=1)
    >>> history = train(
    ...     model, task.train_inputs, task.train_targets, steps=50, rng=2,
    ...     snapshot_steps=[0, 50])
    >>> len(history.losses)
    50
    >>> history.losses[-1] < history.losses[0]
    True
    >>> history.snapshot_steps, history.snapshots[0].shape
    ([0, 50], (4, 4))
    """
    _check_model(model)
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an SGD or Adam, got {type(optimizer).__name__}")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    x = _check_ids(inputs, "inputs", model)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"inputs must hold at least one sequence, shape (n_sequences, n_tokens), got shape "
            f"{x.shape}"
        )
    y = _check_ids(targets, "targets", model, check_length=False)
    if x.shape != y.shape:
        raise ValueError(
            f"inputs {x.shape} and targets {y.shape} must have the same shape "
            "(n_sequences, n_tokens)"
        )
    probe_ids = x[:64] if probe is None else _check_ids(probe, "probe", model)
    try:
        requested = list(snapshot_steps)
    except TypeError:
        raise TypeError(
            f"snapshot_steps must be an iterable of integers, got {snapshot_steps!r}"
        ) from None
    wanted = {check_positive_int(s, "snapshot_steps", allow_zero=True) for s in requested}
    if optimizer is not None:
        _check_optimizer_is_built_on(optimizer, model)
    generator = as_rng(rng)
    if optimizer is None:
        optimizer = Adam(model.params, lr=lr)
    history = TrainingHistory()

    def snapshot(step: int) -> None:
        model(probe_ids)
        weights = getattr(model, "weights", None)
        if weights is not None:
            history.snapshot_steps.append(step)
            history.snapshots.append(weights.reshape(-1, *weights.shape[-2:]).mean(axis=0))

    initial = {name: param.copy() for name, param in model.params.items()}
    try:
        if 0 in wanted:
            snapshot(0)
        for step in range(1, steps + 1):
            batch = generator.integers(len(x), size=batch_size)
            loss, grad_logits = softmax_cross_entropy(model(x[batch]), y[batch])
            model.backward(grad_logits)
            optimizer.step(model.grads)
            history.losses.append(loss)
            if step in wanted:
                snapshot(step)
    except Exception:
        # A run that diverged halfway must not leave a half-trained model behind.
        for name, param in model.params.items():
            param[...] = initial[name]
        raise
    return history


def _check_model(model: Any) -> None:
    """Raise ``TypeError`` if ``model`` lacks a member of the
    :class:`~simple_attention.training.loop.Model` interface."""
    if not isinstance(model, Model):
        missing = [
            name
            for name in ("__call__", "backward", "params", "grads")
            if not hasattr(model, name)
        ]
        raise TypeError(
            f"model must have the Model interface (call, backward, params, grads); "
            f"{type(model).__name__} lacks {', '.join(missing)}"
        )


def _check_optimizer_is_built_on(optimizer: Optimizer, model: Model) -> None:
    """Raise ``ValueError`` unless ``optimizer`` updates the arrays of ``model.params``."""
    params = model.params
    if set(optimizer.params) != set(params) or any(
        optimizer.params[name] is not param for name, param in params.items()
    ):
        raise ValueError(
            "optimizer must be built on model.params (the same names and the same arrays), "
            "e.g. SGD(model.params, lr=0.1)"
        )


def _check_ids(
    ids: npt.ArrayLike, name: str, model: Model, *, check_length: bool = True
) -> np.ndarray:
    """Token ids for ``model``: integers in ``[0, vocab_size)``.

    With ``check_length`` (model inputs, not targets), also sequences of 1 to max_len tokens.
    Checked here, before anything runs, so that a bad id in a sequence drawn late in training
    cannot stop the run halfway.
    """
    arr = np.asarray(ids)
    if not np.issubdtype(arr.dtype, np.integer):
        if arr.size:
            raise TypeError(f"{name} must be integer token ids, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    if check_length and (arr.ndim == 0 or arr.shape[-1] == 0):
        raise ValueError(
            f"{name} must hold sequences of at least one token, got shape {arr.shape}"
        )
    vocab_size = getattr(getattr(model, "embedding", None), "vocab_size", None)
    if vocab_size is None and arr.size and arr.min() < 0:
        raise ValueError(f"{name} must not be negative, got values from {arr.min()}")
    if vocab_size is not None and arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(
            f"{name} must lie in [0, {vocab_size}), got values from {arr.min()} to {arr.max()}"
        )
    max_len = getattr(getattr(model, "positions", None), "max_len", None)
    if max_len is not None and check_length and arr.shape[-1] > max_len:
        raise ValueError(
            f"{name} has sequences of {arr.shape[-1]} tokens but the model holds max_len={max_len}"
        )
    return arr


def accuracy(model: Model, inputs: npt.ArrayLike, targets: npt.ArrayLike) -> float:
    """Share of positions where the model's most likely token is the target.

    Parameters
    ----------
    model : Model
        Any model with the interface of :class:`~simple_attention.training.loop.Model`; called once
        on ``inputs`` (so the
        weights of a :class:`~simple_attention.TinyAttentionModel` are then those of
        ``inputs``).
    inputs : array_like of int, shape (..., n)
        Token ids, at least one token.
    targets : array_like of int, same shape as ``inputs``
        The expected token ids, in ``[0, vocab_size)``.

    Returns
    -------
    float
        Between 0 and 1.

    Raises
    ------
    TypeError
        If ``model`` lacks the interface of :class:`~simple_attention.training.loop.Model`, or
        ``inputs`` or
        ``targets`` are not integer token ids.
    ValueError
        If ``inputs`` holds no token, ``targets`` does not have the shape of ``inputs`` (no
        broadcasting: a target per position), or an id lies outside ``[0, vocab_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TinyAttentionModel, accuracy
    >>> model = TinyAttentionModel(vocab_size=4, max_len=3, d_model=8, rng=0)
    >>> ids = np.array([[0, 1, 2], [3, 2, 1]])
    >>> 0.0 <= accuracy(model, ids, ids[:, ::-1]) <= 1.0
    True
    """
    _check_model(model)
    ids = _check_ids(inputs, "inputs", model)
    if ids.size == 0:
        raise ValueError(f"inputs holds no sequence (shape {ids.shape}): no accuracy to measure")
    expected = _check_ids(targets, "targets", model, check_length=False)
    if expected.shape != ids.shape:
        raise ValueError(
            f"targets must have the shape of inputs {ids.shape} (one target per position), got "
            f"{expected.shape}"
        )
    predictions = model(ids).argmax(axis=-1)
    return float((predictions == expected).mean())


def attention_match(weights: npt.ArrayLike, ideal: npt.ArrayLike) -> float:
    """How much of the attention falls where the ideal pattern puts it, between 0 and 1.

    For each query, the weight it gives to the keys the ideal pattern points at,
    ``sum(weights * ideal)`` over the keys, averaged over queries (and sequences). With a
    one-hot ideal row this is the weight on the right key: 1 for a perfect match, ``1/n`` for
    uniform attention over ``n`` keys.

    Parameters
    ----------
    weights : array_like, shape (..., n_queries, n_keys)
        Attention weights, rows summing to 1.
    ideal : array_like, shape (n_queries, n_keys)
        The known pattern, rows summing to 1.

    Raises
    ------
    ValueError
        If ``weights`` does not end with the shape of ``ideal``, holds no query (nothing to
        average), or either holds NaN, inf or values outside ``[0, 1]``.
    TypeError
        If either is not real numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import attention_match, reverse_pattern
    >>> attention_match(reverse_pattern(4), reverse_pattern(4))
    1.0
    >>> attention_match(np.full((4, 4), 0.25), reverse_pattern(4))
    0.25
    """
    w = as_float_array(weights, "weights")
    target = as_float_array(ideal, "ideal")
    if w.ndim < 2 or w.shape[-2:] != target.shape:
        raise ValueError(
            f"weights of shape {w.shape} do not end with the ideal pattern's shape {target.shape}"
        )
    if w.size == 0:
        raise ValueError(f"weights of shape {w.shape} hold no query: nothing to average")
    for name, arr in (("weights", w), ("ideal", target)):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"{name} must be probabilities in [0, 1], got values from "
                f"{arr.min()} to {arr.max()}"
            )
    return float((w * target).sum(axis=-1).mean())
