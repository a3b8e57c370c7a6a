"""simple-attention: self-attention from first principles, in NumPy.

The public names follow the pipeline of the tutorial:

1. tokens: :func:`sample_tokens`, :func:`tokenize`, :class:`Vocabulary`;
2. embeddings: :func:`naive_embeddings`, :func:`seed_inputs`, :class:`Embedding`;
3. softmax: :func:`softmax`, :func:`naive_softmax`, :func:`softmax_backward`,
   :func:`log_softmax`, :func:`log_softmax_backward`;
4. attention for one query with loops: :func:`attention_scores_loop`,
   :func:`context_vector_loop`, :func:`self_attention_loop`;
5. attention for all queries with matrices: :func:`self_attention`,
   :func:`scaled_dot_product_attention`, :func:`causal_mask`;
6. trainable weights: :class:`SelfAttention`;
7. gradients and training: :func:`scaled_dot_product_attention_backward`, the
   :class:`~simple_attention.layers.Layer` interface (``params``, ``backward``, ``grads``),
   :func:`~simple_attention.gradcheck.gradcheck`, :class:`PositionalEmbedding`,
   :func:`sinusoidal_positions`, :class:`Linear`, :func:`softmax_cross_entropy`, :class:`SGD`,
   :class:`Adam`, the reversal task (:func:`reverse_task`, :func:`reverse_pattern`),
   :class:`TinyAttentionModel`, :func:`train`, :func:`accuracy`, :func:`attention_match`;
8. masks, padding and dropout: :func:`pad_batch`, :func:`key_padding_mask`,
   :meth:`Vocabulary.encode_batch`, :class:`Dropout`;
9. multi-head attention and decoding: :class:`MultiHeadAttention`, :class:`KVCache`,
   :func:`causal_mask_bottom_right`.
"""

from .attention import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    self_attention,
)
from .chunked import chunked_attention
from .dropout import Dropout
from .embeddings import Embedding, naive_embeddings, seed_inputs
from .heads import Linear
from .kv_cache import KVCache, causal_mask_bottom_right
from .layers import SelfAttention
from .loops import attention_scores_loop, context_vector_loop, self_attention_loop
from .losses import softmax_cross_entropy
from .masks import causal_mask
from .model import TinyAttentionModel
from .multihead import MultiHeadAttention
from .optim import SGD, Adam
from .padding import key_padding_mask, pad_batch
from .positional import PositionalEmbedding, sinusoidal_positions
from .softmax import (
    log_softmax,
    log_softmax_backward,
    naive_softmax,
    softmax,
    softmax_backward,
)
from .tasks import ReverseTask, reverse_pattern, reverse_task
from .tokens import PAD, UNK, Vocabulary, sample_tokens, tokenize
from .training import TrainingHistory, accuracy, attention_match, train

__version__ = "0.1.0"

__all__ = [
    "PAD",
    "SGD",
    "UNK",
    "Adam",
    "Dropout",
    "Embedding",
    "KVCache",
    "Linear",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "ReverseTask",
    "SelfAttention",
    "TinyAttentionModel",
    "TrainingHistory",
    "Vocabulary",
    "accuracy",
    "attention_match",
    "attention_scores_loop",
    "causal_mask",
    "causal_mask_bottom_right",
    "chunked_attention",
    "context_vector_loop",
    "key_padding_mask",
    "log_softmax",
    "log_softmax_backward",
    "naive_embeddings",
    "naive_softmax",
    "pad_batch",
    "reverse_pattern",
    "reverse_task",
    "sample_tokens",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "seed_inputs",
    "self_attention",
    "self_attention_loop",
    "sinusoidal_positions",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "tokenize",
    "train",
]
