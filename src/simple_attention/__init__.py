"""simple-attention: self-attention from first principles, in NumPy.

The public names follow the pipeline of the tutorial:

1. tokens: :func:`sample_tokens`, :func:`tokenize`, :class:`Vocabulary`;
2. embeddings: :func:`naive_embeddings`, :func:`seed_inputs`, :func:`seed_numbers`,
   :class:`Embedding`;
3. softmax: :func:`softmax`, :func:`naive_softmax`, :func:`softmax_backward`,
   :func:`log_softmax`, :func:`log_softmax_backward`;
4. attention for one query with loops: :func:`attention_scores_loop`,
   :func:`context_vector_loop`, :func:`self_attention_loop`;
5. attention for all queries with matrices: :func:`self_attention`,
   :func:`scaled_dot_product_attention`, :func:`causal_mask`;
6. trainable weights: :class:`SelfAttention`, one case of :class:`Attention`;
7. gradients and training: :func:`scaled_dot_product_attention_backward`, the
   :class:`Layer` interface (``params``, ``backward``, ``grads``),
   :func:`gradcheck`, :class:`PositionalEmbedding`,
   :func:`sinusoidal_positions`, :class:`Linear`, :func:`softmax_cross_entropy`, :class:`SGD`,
   :class:`Adam`, the reversal task (:func:`reverse_task`, :func:`reverse_pattern`),
   :class:`TinyAttentionModel`, :func:`train`, :func:`accuracy`, :func:`attention_match`;
8. masks, padding and dropout: :func:`pad_batch`, :func:`key_padding_mask`,
   :meth:`Vocabulary.encode_batch`, :class:`Dropout`;
9. multi-head attention and decoding: :class:`MultiHeadAttention`, :class:`KVCache`,
   :func:`causal_mask_bottom_right`;
10. the transformer block: :class:`LayerNorm`, :func:`gelu`, :class:`FeedForward`,
    :class:`TransformerBlock`;
11. a tiny language model: :class:`CharVocabulary`, :func:`load_corpus`,
    :func:`next_token_pairs`, :class:`BigramModel`, :class:`TinyGPT`, :func:`generate`,
    :func:`save_weights`, :func:`load_weights`;
12. positions: :func:`rotary_embedding`, :func:`rotary_embedding_backward`,
    :func:`rotary_frequencies` (and ``rotary=True`` of the attention layers).

The subpackages follow the same pipeline, so each idea lives where the tutorial introduces it:

* ``text``: tokens, vocabularies, padding, embeddings and positions (steps 1-2);
* ``attention``: softmax, the loops, scaled dot-product attention, masks, the blocked and
  chunked kernels and the key-value cache (steps 3-5 and the memory-efficient page);
* ``layers``: the :class:`Layer` base class and the trainable layers and models (steps 6-9);
* ``training``: losses, optimizers, gradient checks, the training loop, tasks, the corpus,
  baselines and checkpoints;
* ``generation``: sampling text from a trained model;
* ``plotting``: the figures of the tutorial (needs the ``plot`` extra).

Every public name is importable from ``simple_attention`` itself.
"""

from .attention.chunked import chunked_attention
from .attention.kv_cache import KVCache
from .attention.loops import attention_scores_loop, context_vector_loop, self_attention_loop
from .attention.masks import causal_mask, causal_mask_bottom_right, key_padding_mask
from .attention.parallel import attention_threads
from .attention.scaled import (
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
    self_attention,
)
from .attention.softmax import (
    log_softmax,
    log_softmax_backward,
    naive_softmax,
    softmax,
    softmax_backward,
)
from .generation.sampling import generate, next_token_distribution
from .layers.attention import Attention, MultiHeadAttention, SelfAttention
from .layers.base import Layer
from .layers.block import TransformerBlock
from .layers.dropout import Dropout
from .layers.feedforward import GELU, FeedForward, gelu, gelu_backward
from .layers.gpt import TinyGPT
from .layers.linear import Linear
from .layers.model import TinyAttentionModel
from .layers.norm import LayerNorm
from .text.chars import CharVocabulary
from .text.embeddings import Embedding, naive_embeddings, seed_inputs, seed_numbers
from .text.padding import pad_batch
from .text.positions import (
    PositionalEmbedding,
    rotary_embedding,
    rotary_embedding_backward,
    rotary_frequencies,
    sinusoidal_positions,
)
from .text.tokens import PAD, UNK, Vocabulary, sample_tokens, tokenize
from .training.baselines import BigramModel, UnigramModel, bigram_nats, unigram_nats
from .training.checkpoint import load_weights, save_weights
from .training.corpus import (
    CORPUS_SEPARATOR,
    CorpusNotFoundError,
    load_corpus,
    plain_punctuation,
    split_corpus,
)
from .training.gradcheck import gradcheck, gradcheck_layer, numerical_gradient, relative_error
from .training.loop import Model, TrainingHistory, accuracy, attention_match, train
from .training.losses import softmax_cross_entropy
from .training.optim import SGD, Adam
from .training.tasks import ReverseTask, next_token_pairs, reverse_pattern, reverse_task

__version__ = "0.1.0"

__all__ = [
    "CORPUS_SEPARATOR",
    "GELU",
    "PAD",
    "SGD",
    "UNK",
    "Adam",
    "Attention",
    "BigramModel",
    "CharVocabulary",
    "CorpusNotFoundError",
    "Dropout",
    "Embedding",
    "FeedForward",
    "KVCache",
    "Layer",
    "LayerNorm",
    "Linear",
    "Model",
    "MultiHeadAttention",
    "PositionalEmbedding",
    "ReverseTask",
    "SelfAttention",
    "TinyAttentionModel",
    "TinyGPT",
    "TrainingHistory",
    "TransformerBlock",
    "UnigramModel",
    "Vocabulary",
    "accuracy",
    "attention_match",
    "attention_scores_loop",
    "attention_threads",
    "bigram_nats",
    "causal_mask",
    "causal_mask_bottom_right",
    "chunked_attention",
    "context_vector_loop",
    "gelu",
    "gelu_backward",
    "generate",
    "gradcheck",
    "gradcheck_layer",
    "key_padding_mask",
    "load_corpus",
    "load_weights",
    "log_softmax",
    "log_softmax_backward",
    "naive_embeddings",
    "naive_softmax",
    "next_token_distribution",
    "next_token_pairs",
    "numerical_gradient",
    "pad_batch",
    "plain_punctuation",
    "relative_error",
    "reverse_pattern",
    "reverse_task",
    "rotary_embedding",
    "rotary_embedding_backward",
    "rotary_frequencies",
    "sample_tokens",
    "save_weights",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "seed_inputs",
    "seed_numbers",
    "self_attention",
    "self_attention_loop",
    "sinusoidal_positions",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "split_corpus",
    "tokenize",
    "train",
    "unigram_nats",
]
