"""Attention with trainable weights: the seed notebook's open TODO.

The inputs are no longer compared with each other directly. Three matrices project each input
into a *query* (what this token is looking for), a *key* (what it offers to be found by) and a
*value* (what it hands on when chosen). Those matrices are the layer's parameters; training
adjusts them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._validation import as_float_array, as_rng, check_positive_int, working_dtype
from .attention import scaled_dot_product_attention

__all__ = ["SelfAttention"]


class SelfAttention:
    r"""Single-head self-attention with trainable query, key and value projections.

    For inputs :math:`X` of shape ``(..., n, d_in)``:

    .. math:: Q = X W_q,\quad K = X W_k,\quad V = X W_v,\qquad
              \text{context} = \operatorname{softmax}\!\Bigl(\frac{Q K^\top}{\sqrt{d_\text{out}}}
              \Bigr) V.

    Parameters
    ----------
    d_in : int
        Size of each input vector.
    d_out : int
        Size of the queries, keys, values and outputs.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for the initial weights, drawn uniformly from
        :math:`[-1/\sqrt{d_\text{in}}, 1/\sqrt{d_\text{in}}]` (the usual default for a linear
        layer, which keeps the projections' spread independent of ``d_in``).

    Attributes
    ----------
    W_query, W_key, W_value : ndarray, shape (d_in, d_out)
        The projections, applied as ``x @ W``.
    weights : ndarray, shape (..., n, n) or None
        The attention weights of the last call, for plotting; ``None`` before the first call.

    See Also
    --------
    scaled_dot_product_attention : the attention step inside the layer.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import SelfAttention
    >>> layer = SelfAttention(d_in=3, d_out=2, rng=0)
    >>> layer.W_query.shape
    (3, 2)
    >>> x = np.array([[0.86, 0.93, 0.82], [0.11, 0.23, 0.26], [0.79, 0.64, 0.39]])
    >>> context = layer(x)
    >>> context.shape
    (3, 2)
    >>> layer.weights.round(3)
    array([[0.327, 0.351, 0.322],
           [0.333, 0.335, 0.332],
           [0.326, 0.353, 0.322]])

    With ``is_causal=True`` each token attends only to itself and the tokens before it:

    >>> _ = layer(x, is_causal=True)
    >>> layer.weights.round(3)
    array([[1.   , 0.   , 0.   ],
           [0.498, 0.502, 0.   ],
           [0.326, 0.353, 0.322]])
    """

    def __init__(
        self, d_in: int, d_out: int, *, rng: int | np.random.Generator | None = None
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        generator = as_rng(rng)
        bound = 1.0 / math.sqrt(self.d_in)
        shape = (self.d_in, self.d_out)
        self.W_query = generator.uniform(-bound, bound, shape)
        self.W_key = generator.uniform(-bound, bound, shape)
        self.W_value = generator.uniform(-bound, bound, shape)
        self.weights: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"SelfAttention(d_in={self.d_in}, d_out={self.d_out})"

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The trainable parameters by name (the arrays themselves, not copies)."""
        return {"W_query": self.W_query, "W_key": self.W_key, "W_value": self.W_value}

    def __call__(
        self, x: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, is_causal: bool = False
    ) -> np.ndarray:
        """Attend over ``x`` of shape ``(..., n, d_in)``; returns ``(..., n, d_out)``.

        ``mask`` and ``is_causal`` work as in :func:`scaled_dot_product_attention`. The result
        has the dtype of ``x`` (the parameters are cast to it).
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 2:
            raise ValueError(
                f"x must be at least 2-D (..., n_tokens, d_in), got shape {x_arr.shape}"
            )
        if x_arr.shape[-1] != self.d_in:
            raise ValueError(
                f"x has {x_arr.shape[-1]} features but the layer expects d_in={self.d_in}"
            )
        for name, W in self.params.items():
            as_float_array(W, name)  # a diverged training run must not pass silently
        work = working_dtype(x_arr.dtype)
        xw = x_arr.astype(work, copy=False)
        query = xw @ self.W_query.astype(work, copy=False)
        key = xw @ self.W_key.astype(work, copy=False)
        value = xw @ self.W_value.astype(work, copy=False)
        context, weights = scaled_dot_product_attention(
            query, key, value, mask=mask, is_causal=is_causal, return_weights=True
        )
        self.weights = weights
        return context.astype(x_arr.dtype, copy=False)
