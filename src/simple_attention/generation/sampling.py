r"""Writing text with a trained model: one token at a time, each drawn from the model's logits.

A language model gives, at the last position, a score (logit) for every token of the vocabulary.
Generation turns the scores into a distribution, draws a token from it, appends the token and
repeats. Two knobs shape the distribution:

* the **temperature** :math:`T` divides the logits before the softmax,
  :math:`p_t \propto \exp(z_t / T)`: below 1 it sharpens the distribution towards the likeliest
  tokens, above 1 it flattens it; at :math:`T = 0` only the likeliest token is left (greedy
  decoding);
* **top-k** keeps the :math:`k` likeliest tokens and renormalises, so that the long tail of
  unlikely tokens, each rare but many together, cannot be drawn.

With a key-value cache (:meth:`~simple_attention.TinyGPT.decode_step`) every new token costs one
row of attention per block instead of a pass over the whole sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, as_rng, check_flag, check_positive_int, check_real

__all__ = ["generate", "next_token_distribution"]


def _check_top_k(top_k: Any, vocab_size: int) -> int | None:
    if top_k is None:
        return None
    k = check_positive_int(top_k, "top_k")
    if k > vocab_size:
        raise ValueError(f"top_k={k} is more than the {vocab_size} tokens of the vocabulary")
    return k


def _distribution(logits: np.ndarray, temperature: float, top_k: int | None) -> np.ndarray:
    """:func:`next_token_distribution` on checked float64 logits ``(..., vocab_size)``."""
    if temperature == 0.0:
        # Greedy: all the mass on the likeliest token (the first, on ties).
        probs = np.zeros_like(logits)
        np.put_along_axis(probs, logits.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return probs
    if top_k is not None:
        kth = np.partition(logits, -top_k, axis=-1)[..., -top_k, None]
        logits = np.where(logits >= kth, logits, -np.inf)
    # Shifted first, so that a tiny temperature sends the others to -inf, never to NaN.
    with np.errstate(over="ignore"):
        shifted = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def next_token_distribution(
    logits: npt.ArrayLike, *, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    r"""The distribution a token is drawn from: softmax of ``logits / temperature``, top-k.

    .. math:: p_t = \frac{\exp(z_t / T)}{\sum_{u \in \text{top}_k} \exp(z_u / T)}
              \ \text{for } t \in \text{top}_k, \qquad p_t = 0 \text{ otherwise.}

    Parameters
    ----------
    logits : array_like, shape (..., vocab_size)
        Finite scores, one per token.
    temperature : float, default 1.0
        :math:`T \ge 0`. ``0`` puts all the mass on the likeliest token (the first one, if
        several tie).
    top_k : int, optional
        Keep only the ``top_k`` likeliest tokens (every token tied with the ``top_k``-th is
        kept too). ``None`` keeps them all.

    Returns
    -------
    ndarray of float64, shape (..., vocab_size)
        Non-negative, each row summing to 1.

    Raises
    ------
    ValueError
        If ``logits`` is 0-d, empty along the last axis, or holds NaN or inf, or
        ``temperature`` is negative or not finite, or ``top_k`` is not in
        ``[1, vocab_size]``.
    TypeError
        If ``logits`` is not real, ``temperature`` not a real number, ``top_k`` not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import next_token_distribution
    >>> logits = np.log([0.5, 0.3, 0.15, 0.05])
    >>> next_token_distribution(logits).round(3)
    array([0.5 , 0.3 , 0.15, 0.05])
    >>> next_token_distribution(logits, temperature=0.5).round(3)  # sharper
    array([0.685, 0.247, 0.062, 0.007])
    >>> next_token_distribution(logits, top_k=2).round(3)  # the tail is cut
    array([0.625, 0.375, 0.   , 0.   ])
    >>> next_token_distribution(logits, temperature=0)  # greedy
    array([1., 0., 0., 0.])
    """
    z = as_float_array(logits, "logits").astype(np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ValueError(f"logits must have shape (..., vocab_size >= 1), got {z.shape}")
    temperature = check_real(temperature, "temperature", low=0.0)
    k = _check_top_k(top_k, z.shape[-1])
    return _distribution(z, temperature, k)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One token per row of ``probs`` ``(batch, vocab_size)``, by inverting the CDF.

    One uniform number per row: the same generator state gives the same tokens whenever the
    distributions agree to float rounding, cached or not. A token of probability 0 is never
    drawn (its CDF step is empty).
    """
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1)


def _check_prompt(prompt_ids: npt.ArrayLike, vocab_size: int, max_len: int) -> np.ndarray:
    try:
        ids = np.array(prompt_ids)
    except ValueError:  # rows of different lengths
        raise ValueError(
            "prompt_ids must be a sequence (n,) or a batch (batch, n) of prompts of one length"
        ) from None
    if ids.ndim not in (1, 2) or ids.shape[-1] == 0:
        # Checked before the dtype: NumPy reads an empty list as float64.
        raise ValueError(
            "prompt_ids must be a sequence (n,) or a batch (batch, n) of at least one token, "
            f"got shape {ids.shape}"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"prompt_ids must be integer token ids, got dtype {ids.dtype}")
    # An empty batch (0, n) has no id to check: it is continued into an empty batch.
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"prompt_ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}"
        )
    if ids.shape[-1] > max_len:
        raise ValueError(
            f"the prompt has {ids.shape[-1]} tokens but the model reads at most "
            f"max_len={max_len}; shorten it (the last max_len tokens, say)"
        )
    return ids.astype(np.int64)


def generate(
    model: Any,
    prompt_ids: npt.ArrayLike,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: int | np.random.Generator | None = None,
    use_cache: bool = True,
) -> np.ndarray:
    """Continue ``prompt_ids`` by ``max_new_tokens`` tokens drawn from ``model``.

    At each step the model scores the next token, the scores become a distribution
    (:func:`next_token_distribution`) and one token is drawn from it with ``rng``. The model
    runs in evaluation mode (no dropout) and is switched back to its mode afterwards.

    With ``use_cache=True``, the prompt is run once, filling a
    :class:`~simple_attention.KVCache` in every block, and each new token then costs one
    :meth:`~simple_attention.TinyGPT.decode_step`: :math:`O(n)` work at length :math:`n`,
    against :math:`O(n^2)` for a full pass. Both ways give the same tokens, and logits equal
    to float rounding.

    **Past** ``max_len``: the model has no position vectors beyond ``max_len``, so once the
    text fills them, every further token is predicted from the last ``max_len`` tokens alone
    (a sliding window). Every token of the window then sits one position earlier than before,
    so the cached keys no longer apply: those steps recompute the window in full, with or
    without the cache.

    Parameters
    ----------
    model : TinyGPT
        The model (anything with ``vocab_size``, ``max_len``, ``training``, ``train``, a call
        on ids, and, for ``use_cache``, ``new_caches`` and ``decode_step``).
    prompt_ids : array_like of int, shape (n,) or (batch, n)
        The start of the text, ``1 <= n <= max_len`` tokens (a batch is continued row by row,
        in one pass; a batch of no prompts, ``(0, n)``, gives an empty batch).
    max_new_tokens : int
        Number of tokens to add, ``>= 0``.
    temperature : float, default 1.0
        ``>= 0``; ``0`` is greedy decoding (the likeliest token each time, no randomness).
    top_k : int, optional
        Draw only from the ``top_k`` likeliest tokens.
    rng : None, int or numpy.random.Generator, optional
        Source of the draws: one uniform number per sequence and step.
    use_cache : bool, default True
        Decode with a key-value cache per block.

    Returns
    -------
    ndarray of int64, shape (n + max_new_tokens,) or (batch, n + max_new_tokens)
        The prompt followed by the new tokens.

    Raises
    ------
    ValueError
        If the prompt is empty, longer than ``max_len``, or holds an id outside the
        vocabulary; if ``max_new_tokens`` is negative, ``temperature`` negative or not
        finite, or ``top_k`` not in ``[1, vocab_size]``.
    TypeError
        If the prompt is not integers, or an argument is of the wrong type.

    Every argument is checked before the model runs.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TinyGPT, generate
    >>> model = TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=1, rng=0)
    >>> out = generate(model, [1, 2, 3], max_new_tokens=7, rng=0)
    >>> out.shape  # past max_len = 8 the last 8 tokens are the context
    (10,)
    >>> bool(np.array_equal(out, generate(model, [1, 2, 3], 7, rng=0, use_cache=False)))
    True
    >>> greedy = generate(model, [[1, 2], [3, 4]], max_new_tokens=3, temperature=0)
    >>> greedy.shape
    (2, 5)
    """
    vocab_size = check_positive_int(getattr(model, "vocab_size", None), "model.vocab_size")
    max_len = check_positive_int(getattr(model, "max_len", None), "model.max_len")
    ids = _check_prompt(prompt_ids, vocab_size, max_len)
    n_new = check_positive_int(max_new_tokens, "max_new_tokens", allow_zero=True)
    temperature = check_real(temperature, "temperature", low=0.0)
    k = _check_top_k(top_k, vocab_size)
    use_cache = check_flag(use_cache, "use_cache")
    generator = as_rng(rng)
    single = ids.ndim == 1
    ids = ids[None, :] if single else ids  # (batch, n)

    was_training = model.training
    model.eval()
    try:
        out = np.empty((ids.shape[0], ids.shape[1] + n_new), dtype=np.int64)
        out[:, : ids.shape[1]] = ids
        length = ids.shape[1]
        caches = model.new_caches() if use_cache else None
        for step in range(n_new):
            if caches is not None and length <= max_len:
                # The prompt at the first step, then only the newest token.
                new = out[:, :length] if step == 0 else out[:, length - 1 : length]
                logits = model.decode_step(new, caches)[:, -1]  # (batch, vocab_size)
            else:
                # No cache, or past max_len: the last max_len tokens, in full.
                logits = model(out[:, max(0, length - max_len) : length])[:, -1]
            probs = _distribution(logits.astype(np.float64), temperature, k)
            token = probs.argmax(axis=-1) if temperature == 0.0 else _draw(probs, generator)
            out[:, length] = token
            length += 1
    finally:
        model.train(was_training)
    return out[0] if single else out
