r"""The loss: how wrong the predicted tokens are, and its gradient.

For logits :math:`z` over a vocabulary and the correct token :math:`t`, the softmax
cross-entropy is the negative log-probability the model gave to :math:`t`:

.. math:: \ell = -\log \operatorname{softmax}(z)_t = \log\sum_j e^{z_j} - z_t,

and its gradient is strikingly simple: :math:`\partial \ell / \partial z =
\operatorname{softmax}(z) - \text{onehot}(t)`, the predicted probabilities minus the target ones.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, working_dtype
from ..attention.softmax import stable_log_softmax

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, mask: npt.ArrayLike | None = None
) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of ``logits`` against ``targets``, and its gradient.

    The log-probabilities come from :func:`~simple_attention.log_softmax`,
    :math:`z_t - m - \log\sum_j e^{z_j - m}` with :math:`m` the largest logit, so that
    nothing overflows however large the logits are. float16 logits are computed in float32.

    Parameters
    ----------
    logits : array_like, shape (..., vocab_size)
        One score per token of the vocabulary, at every position.
    targets : array_like of int, shape (...)
        The correct token id at every position, in ``[0, vocab_size)``.
    mask : array_like of bool, shape (...), optional
        ``True`` where the position counts; broadcasts to the shape of ``targets``. Positions
        set to ``False`` (padding) contribute neither to the loss nor to the gradient, and
        their target is not checked.

    Returns
    -------
    loss : float
        The mean of :math:`\ell` over the positions that count; ``0.0`` if none does.
    grad_logits : ndarray, shape of ``logits``
        :math:`\partial\,\text{loss} / \partial z = (\operatorname{softmax}(z) -
        \text{onehot}(t)) / n_\text{counted}` at counted positions, zero elsewhere; in the dtype
        of ``logits``.

    Raises
    ------
    ValueError
        On non-finite logits, mismatched shapes (also a ``mask`` that does not broadcast to
        ``targets``), or a target outside the vocabulary.
    TypeError
        If ``logits`` are not real numbers, ``targets`` are not integers or ``mask`` is not
        boolean.
    FloatingPointError
        If the loss is beyond the range of float64 (a target logit more than about ``1e308``
        below the largest one).

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import softmax_cross_entropy
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> loss, grad = softmax_cross_entropy(logits, [0, 2])
    >>> round(loss, 6)  # the mean of -log(0.787) and -log(1/3)
    0.669079
    >>> grad.round(4)
    array([[-0.1065,  0.0533,  0.0533],
           [ 0.1667,  0.1667, -0.3333]])

    A masked position costs nothing and learns nothing:

    >>> loss, grad = softmax_cross_entropy(logits, [0, 2], mask=[True, False])
    >>> round(loss, 6), grad[1]
    (0.239545, array([0., 0., 0.]))
    """
    z = as_float_array(logits, "logits")
    if z.ndim < 1:
        raise ValueError("logits must be at least 1-D (..., vocab_size), got a 0-d array")
    t = np.asarray(targets)
    if not np.issubdtype(t.dtype, np.integer):
        if t.size:
            raise TypeError(f"targets must be integer token ids, got dtype {t.dtype}")
        t = t.astype(np.int64)
    if t.shape != z.shape[:-1]:
        raise ValueError(
            f"targets have shape {t.shape} but logits {z.shape} need targets of shape "
            f"{z.shape[:-1]}"
        )
    if mask is None:
        keep = np.ones(t.shape, dtype=bool)
    else:
        keep = np.asarray(mask)
        if keep.dtype != np.bool_:
            raise TypeError(f"mask must be boolean (True = counts), got dtype {keep.dtype}")
        try:
            keep = np.broadcast_to(keep, t.shape)
        except ValueError:
            raise ValueError(
                f"mask has shape {keep.shape} but must broadcast to the shape of targets "
                f"{t.shape} (one flag per position)"
            ) from None
    vocab_size = z.shape[-1]
    counted = t[keep]
    if counted.size and (counted.min() < 0 or counted.max() >= vocab_size):
        raise ValueError(
            f"targets must lie in [0, {vocab_size}), got values from {counted.min()} "
            f"to {counted.max()}"
        )
    n_counted = int(keep.sum())
    if n_counted == 0:
        return 0.0, np.zeros_like(z)

    work = z.astype(working_dtype(z.dtype), copy=False)
    # A log-probability beyond the dtype becomes -inf here: its probability, 0, is still right
    # for the gradient, and the loss is recomputed below.
    with np.errstate(over="ignore"):
        log_probs = stable_log_softmax(work)
    safe_t = np.where(keep, t, 0)  # masked targets may be anything, e.g. a padding id
    target_log_probs = np.take_along_axis(log_probs, safe_t[..., None], axis=-1)[..., 0]
    with np.errstate(over="ignore"):
        loss = -float(target_log_probs[keep].sum()) / n_counted
    if not math.isfinite(loss):
        loss = _mean_loss_in_float64(z[keep], t[keep])

    one_hot = np.arange(vocab_size) == safe_t[..., None]
    grad = np.where(keep[..., None], (np.exp(log_probs) - one_hot) / n_counted, 0.0)
    return loss, grad.astype(z.dtype, copy=False)


def _mean_loss_in_float64(logits: np.ndarray, targets: np.ndarray) -> float:
    """The mean loss of the counted positions, when the working dtype overflowed.

    A float32 log-probability can overflow where float64 does not, and a sum of large losses
    where their mean does not: recompute in float64 and divide before summing.
    """
    with np.errstate(over="ignore"):
        log_probs = stable_log_softmax(logits.astype(np.float64))
        target_log_probs = np.take_along_axis(log_probs, targets[:, None], axis=-1)[:, 0]
        loss = -float((target_log_probs / len(targets)).sum())
    if not math.isfinite(loss):
        raise FloatingPointError(
            "the cross-entropy overflowed float64: a target logit lies more than the largest "
            "float64 below the largest logit of its position"
        )
    return loss
