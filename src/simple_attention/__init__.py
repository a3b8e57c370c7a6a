"""simple-attention: self-attention from first principles, in NumPy.

The public names follow the pipeline of the tutorial:

1. tokens: :func:`sample_tokens`, :func:`tokenize`, :class:`Vocabulary`;
2. embeddings: :func:`naive_embeddings`, :class:`Embedding`;
3. softmax: :func:`softmax`, :func:`naive_softmax`, :func:`softmax_backward`;
4. attention for one query with loops: :func:`attention_scores_loop`,
   :func:`context_vector_loop`, :func:`self_attention_loop`;
5. attention for all queries with matrices: :func:`self_attention`,
   :func:`scaled_dot_product_attention`, :func:`causal_mask`;
6. trainable weights: :class:`SelfAttention`.
"""

from .attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    self_attention,
)
from .embeddings import Embedding, naive_embeddings
from .layers import SelfAttention
from .loops import attention_scores_loop, context_vector_loop, self_attention_loop
from .masks import causal_mask
from .softmax import naive_softmax, softmax, softmax_backward
from .tokens import PAD, UNK, Vocabulary, sample_tokens, tokenize

__version__ = "0.1.0"

__all__ = [
    "PAD",
    "UNK",
    "Embedding",
    "SelfAttention",
    "Vocabulary",
    "attention_scores_loop",
    "causal_mask",
    "context_vector_loop",
    "naive_embeddings",
    "naive_softmax",
    "sample_tokens",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "self_attention",
    "self_attention_loop",
    "softmax",
    "softmax_backward",
    "tokenize",
]
