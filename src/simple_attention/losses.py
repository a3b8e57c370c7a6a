r"""The loss: how wrong the predicted tokens are, and its gradient.

For logits :math:`z` over a vocabulary and the correct token :math:`t`, the softmax
cross-entropy is the negative log-probability the model gave to :math:`t`:

.. math:: \ell = -\log \operatorname{softmax}(z)_t = \log\sum_j e^{z_j} - z_t,

and its gradient is strikingly simple: :math:`\partial \ell / \partial z =
\operatorname{softmax}(z) - \text{onehot}(t)`, the predicted probabilities minus the target ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._validation import as_float_array, working_dtype

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, mask: npt.ArrayLike | None = None
) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of ``logits`` against ``targets``, and its gradient.

    The log-softmax is computed as :math:`z_t - m - \log\sum_j e^{z_j - m}` with :math:`m`
    the largest logit, so that nothing overflows however large the logits are.

    Parameters
    ----------
    logits : array_like, shape (..., vocab_size)
        One score per token of the vocabulary, at every position.
    targets : array_like of int, shape (...)
        The correct token id at every position, in ``[0, vocab_size)``.
    mask : array_like of bool, shape (...), optional
        ``True`` where the position counts. Positions set to ``False`` (padding) contribute
        neither to the loss nor to the gradient, and their target is not checked.

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
        On non-finite logits, mismatched shapes, or a target outside the vocabulary.
    TypeError
        If ``targets`` are not integers or ``mask`` is not boolean.

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
        keep = np.broadcast_to(keep, t.shape)
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
    shifted = work - work.max(axis=-1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_probs = shifted - log_total
    safe_t = np.where(keep, t, 0)  # masked targets may be anything, e.g. a padding id
    target_log_probs = np.take_along_axis(log_probs, safe_t[..., None], axis=-1)[..., 0]
    loss = -float(target_log_probs[keep].sum()) / n_counted

    one_hot = np.arange(vocab_size) == safe_t[..., None]
    grad = np.where(keep[..., None], (np.exp(log_probs) - one_hot) / n_counted, 0.0)
    return loss, grad.astype(z.dtype, copy=False)
