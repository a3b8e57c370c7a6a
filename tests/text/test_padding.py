"""Padding a batch: ids, the real-token mask, and invariance of the real tokens' outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_attention import (
    PAD,
    MultiHeadAttention,
    SelfAttention,
    Vocabulary,
    causal_mask,
    key_padding_mask,
    pad_batch,
)

ATOL = 1e-12


def test_pad_batch_fills_with_pad_id_and_marks_real_tokens():
    ids, keep = pad_batch([np.array([4, 5]), [6, 7, 8, 9], [3]])
    np.testing.assert_array_equal(ids, [[4, 5, 0, 0], [6, 7, 8, 9], [3, 0, 0, 0]])
    np.testing.assert_array_equal(keep.sum(axis=1), [2, 4, 1])
    assert ids.dtype == np.int64
    assert keep.dtype == np.bool_


def test_pad_batch_edge_cases():
    ids, keep = pad_batch([])
    assert ids.shape == keep.shape == (0, 0)
    ids, keep = pad_batch([[], []])
    assert ids.shape == (2, 0)
    ids, _ = pad_batch([[1], [2, 3]], pad_id=9)
    np.testing.assert_array_equal(ids, [[1, 9], [2, 3]])


@pytest.mark.parametrize(
    ("sequences", "kwargs", "error", "match"),
    [
        ([[[1, 2]]], {}, ValueError, r"sequences\[0\] must be 1-D"),
        ([[1], [0.5]], {}, TypeError, r"sequences\[1\] must hold integer token ids"),
        ([[1]], {"pad_id": -1}, ValueError, "pad_id must be non-negative"),
    ],
)
def test_pad_batch_refuses_bad_input(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_batch(sequences, **kwargs)


def test_vocabulary_encode_batch_pads_with_the_pad_token():
    vocab = Vocabulary.from_text("the cat sat on the mat")
    ids, keep = vocab.encode_batch(["the cat", "the cat sat on the mat", "a dog"])
    assert ids.shape == (3, 6)
    assert vocab.tokens[ids[0, -1]] == PAD
    np.testing.assert_array_equal(ids[2, :2], [vocab.unk_id, vocab.unk_id])
    assert vocab.decode(ids[0]) == "the cat"
    np.testing.assert_array_equal(keep.sum(axis=1), [2, 6, 2])
    with pytest.raises(TypeError, match="texts must be a sequence of str"):
        vocab.encode_batch("the cat")


def test_key_padding_mask_shapes_and_causal_combination():
    keep = np.array([[True, True, False], [True, True, True]])
    assert key_padding_mask(keep).shape == (2, 1, 1, 3)
    combined = key_padding_mask(keep, is_causal=True)
    assert combined.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(combined, causal_mask(3) & keep[:, None, None, :])
    with pytest.raises(TypeError, match="keep must be boolean"):
        key_padding_mask(keep.astype(int))
    with pytest.raises(ValueError, match="keep must have shape"):
        key_padding_mask(keep[0])


batches = st.tuples(
    st.lists(st.integers(1, 6), min_size=1, max_size=4),  # real lengths
    st.integers(1, 3),  # n_heads
    st.integers(0, 2**32 - 1),  # seed
    st.booleans(),  # causal
)


@given(batches)
def test_padding_never_changes_the_real_tokens(params):
    lengths, n_heads, seed, is_causal = params
    rng = np.random.default_rng(seed)
    d_model = 2 * n_heads
    layer = MultiHeadAttention(d_model, n_heads, rng=rng)
    sentences = [rng.standard_normal((n, d_model)) for n in lengths]
    n_max = max(lengths)
    # Pad with large random vectors: if anything leaked from them, it would show.
    x = 100 * rng.standard_normal((len(lengths), n_max, d_model))
    keep = np.arange(n_max) < np.array(lengths)[:, None]
    x[keep] = np.concatenate(sentences)
    out = layer(x, mask=key_padding_mask(keep, is_causal=is_causal))
    assert np.isfinite(out).all()
    for b, sentence in enumerate(sentences):
        alone = layer(sentence, is_causal=is_causal)
        np.testing.assert_allclose(out[b, : lengths[b]], alone, rtol=0, atol=ATOL)


def test_padded_queries_attend_to_the_real_keys():
    layer = MultiHeadAttention(4, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((1, 5, 4))
    keep = np.array([[True, True, True, False, False]])
    for is_causal in (False, True):
        layer(x, mask=key_padding_mask(keep, is_causal=is_causal))
        padded_rows = layer.weights[0, :, 3:, :]
        np.testing.assert_array_equal(padded_rows[..., 3:], 0.0)
        np.testing.assert_allclose(padded_rows.sum(-1), 1.0, atol=ATOL)


def test_a_sentence_without_real_tokens_gives_zeros():
    layer = MultiHeadAttention(4, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    keep = np.array([[True, False, False], [False, False, False]])
    out = layer(x, mask=key_padding_mask(keep, is_causal=True))
    np.testing.assert_array_equal(out[1], 0.0)
    grad_x = layer.backward(np.ones_like(out))
    assert np.isfinite(grad_x).all()


def test_single_head_uses_the_mask_without_its_head_axis():
    layer = SelfAttention(3, 2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 4, 3))
    keep = np.array([[True, True, False, False], [True, True, True, True]])
    out = layer(x, mask=key_padding_mask(keep)[:, 0])
    np.testing.assert_allclose(out[0, :2], layer(x[0, :2]), rtol=0, atol=ATOL)


@pytest.mark.parametrize("bad", ["no", 1, None])
def test_key_padding_mask_is_causal_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="is_causal must be True or False"):
        key_padding_mask(np.ones((1, 2), dtype=bool), is_causal=bad)


@pytest.mark.parametrize(
    ("sequences", "error", "match"),
    [
        (None, TypeError, "sequences must be a sequence of 1-D arrays"),
        ("abc", TypeError, "sequences must be a sequence of 1-D arrays of token ids, got str"),
        ([[1, 2], [-1]], ValueError, r"sequences\[1\] must hold token ids in \[0, "),
        ([np.array([2**64 - 1], dtype=np.uint64)], ValueError, r"sequences\[0\] must hold"),
    ],
)
def test_pad_batch_refuses_what_is_not_token_ids(sequences, error, match):
    with pytest.raises(error, match=match):
        pad_batch(sequences)


def test_pad_batch_accepts_unsigned_ids_and_arrays():
    ids, keep = pad_batch(np.array([[1, 2], [3, 4]], dtype=np.uint8))
    np.testing.assert_array_equal(ids, [[1, 2], [3, 4]])
    assert ids.dtype == np.int64
    assert keep.all()
