r"""A tiny model built around one attention layer.

Token ids go through the whole pipeline of the library, and back:

.. math:: X = E[\text{ids}] + P, \qquad C = \operatorname{SelfAttention}(X), \qquad
          \text{logits} = C\,W + b,

an :class:`~simple_attention.Embedding` for the tokens, a
:class:`~simple_attention.PositionalEmbedding` so that attention can tell positions apart, one
:class:`~simple_attention.SelfAttention` layer and a :class:`~simple_attention.Linear` output
head. There is no residual connection and no feed-forward block: every prediction has to come
through attention, so the attention weights alone show how the model solves its task.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_rng, check_flag, check_positive_int, check_scale
from ..text.embeddings import Embedding
from ..text.positions import PositionalEmbedding
from .attention import SelfAttention
from .base import Layer
from .linear import Linear

__all__ = ["TinyAttentionModel"]


class TinyAttentionModel(Layer):
    r"""Embedding + positions, one self-attention layer, and a linear head.

    Parameters
    ----------
    vocab_size : int
        Number of distinct token ids (inputs and outputs).
    max_len : int
        Longest sequence the model accepts.
    d_model : int
        Size of the token vectors and of the attention's queries, keys and values.
    rng : None, int or numpy.random.Generator, optional
        Source of randomness for every initial weight.
    scale : float, optional
        The attention's score scale; by default :math:`1/\sqrt{d_\text{model}}`.

    Every argument is checked before anything is drawn from ``rng``.

    Attributes
    ----------
    embedding : Embedding
    positions : PositionalEmbedding
    attention : SelfAttention
    head : Linear
    params, grads : dict of str to ndarray
        The parameters of all four layers, named ``"<layer>.<parameter>"`` (for example
        ``"attention.W_query"``), and their gradients after :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import TinyAttentionModel
    >>> model = TinyAttentionModel(vocab_size=10, max_len=8, d_model=16, rng=0)
    >>> ids = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    >>> logits = model(ids)
    >>> logits.shape  # one score per vocabulary entry, at every position
    (2, 5, 10)
    >>> model.backward(np.ones_like(logits))
    >>> model.grads["attention.W_query"].shape
    (16, 16)
    >>> sorted(model.params)[:3]
    ['attention.W_key', 'attention.W_query', 'attention.W_value']
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        d_model: int,
        *,
        rng: int | np.random.Generator | None = None,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        vocab_size = check_positive_int(vocab_size, "vocab_size")
        max_len = check_positive_int(max_len, "max_len")
        d_model = check_positive_int(d_model, "d_model")
        scale = None if scale is None else check_scale(scale)
        generator = as_rng(rng)
        self.embedding = Embedding(vocab_size, d_model, rng=generator)
        self.positions = PositionalEmbedding(max_len, d_model, rng=generator)
        self.attention = SelfAttention(d_model, d_model, rng=generator, scale=scale)
        self.head = Linear(d_model, vocab_size, rng=generator)

    def __repr__(self) -> str:
        return (
            f"TinyAttentionModel(vocab_size={self.embedding.vocab_size}, "
            f"max_len={self.positions.max_len}, d_model={self.embedding.dim})"
        )

    @property
    def weights(self) -> np.ndarray | None:
        """The attention weights of the last call, shape ``(..., n, n)``."""
        return self.attention.weights

    def __call__(
        self, ids: npt.ArrayLike, *, mask: npt.ArrayLike | None = None, is_causal: bool = False
    ) -> np.ndarray:
        """Logits of shape ``ids.shape + (vocab_size,)`` for token ids ``(..., n)``.

        ``mask`` and ``is_causal`` are passed on to the attention layer. Sequences of length
        0 are allowed.

        Raises
        ------
        TypeError
            If ``ids`` are not integers, or ``is_causal`` is not a bool.
        ValueError
            If an id is out of range, the sequences are longer than ``max_len``, ``mask`` does
            not fit, or a parameter holds NaN or inf (named ``"<layer>.<parameter>"``).
        FloatingPointError
            If a layer's result overflows.

        After a call that raised, :meth:`backward` raises ``RuntimeError`` until the next
        successful call, and :attr:`weights` still holds the last successful call's weights.
        """
        is_causal = check_flag(is_causal, "is_causal")
        self._check_params()
        x = self.positions(self.embedding(ids))
        context = self.attention(x, mask=mask, is_causal=is_causal)
        return self.head(context)

    def backward(self, grad_out: npt.ArrayLike) -> None:
        """Run every layer's backward pass, last layer first, and collect ``grads``.

        ``grad_out`` is dL/d(logits) of the last call; token ids have no gradient, so nothing
        is returned.

        Raises
        ------
        RuntimeError
            If the model has not been called yet, or its last call raised, or one of its layers
            has been called on its own since.
        ValueError
            If ``grad_out`` does not have the shape of the last logits, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        """
        self._saved()  # raises if the last call failed, or a layer was called on its own since
        grad = self.head.backward(grad_out)
        grad = self.attention.backward(grad)
        grad = self.positions.backward(grad)
        self.embedding.backward(grad)
