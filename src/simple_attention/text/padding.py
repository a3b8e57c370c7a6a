"""Padding: sentences of different lengths in one rectangular batch.

Arrays are rectangular, sentences are not. To process several sentences at once, the short ones
are filled up with the padding id (``0``, the id of ``<pad>`` in every
:class:`~simple_attention.Vocabulary`) to the length of the longest, and a boolean
*key-padding mask* remembers which positions are real. Masking the padding keys out of the
attention makes the padding invisible: the real tokens get exactly the outputs they would get
without it.

The padding *queries* still get an output: with a key-padding mask, a padded position attends
to the real keys of its sentence (with a causal mask, to all of them, since they all come
first). That output is finite but means nothing; leave it out of the loss. Only a sentence with
no real token at all has padded rows with nothing to attend to, and those give zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from .._validation import check_positive_int

__all__ = ["pad_batch"]


def pad_batch(
    sequences: Sequence[npt.ArrayLike], *, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of token ids into one padded array, plus the mask of real tokens.

    Parameters
    ----------
    sequences : sequence of 1-D array_like of int
        The token ids of each sentence; the lengths may differ, and may be zero.
    pad_id : int, default 0
        The id written into the padding positions (``<pad>`` is ``0`` in every vocabulary).

    Returns
    -------
    ids : ndarray of int64, shape (B, T)
        Row ``b`` holds sentence ``b`` followed by ``pad_id``; ``T`` is the longest length.
    keep : ndarray of bool, shape (B, T)
        ``True`` at the real tokens, ``False`` at the padding.

    Raises
    ------
    ValueError
        If a sequence is not 1-D, or holds a negative id or one beyond int64.
    TypeError
        If ``sequences`` is a string or not iterable, or a sequence does not hold integers.

    See Also
    --------
    key_padding_mask : turns ``keep`` into an attention mask.
    simple_attention.Vocabulary.encode_batch : text to padded ids in one step.

    Examples
    --------
    >>> from simple_attention import pad_batch
    >>> ids, keep = pad_batch([[5, 6, 7], [8], []])
    >>> ids
    array([[5, 6, 7],
           [8, 0, 0],
           [0, 0, 0]])
    >>> keep
    array([[ True,  True,  True],
           [ True, False, False],
           [False, False, False]])
    """
    pad_id = check_positive_int(pad_id, "pad_id", allow_zero=True)
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(
            "sequences must be a sequence of 1-D arrays of token ids, got "
            f"{type(sequences).__name__}"
        )
    arrays = []
    for i, seq in enumerate(sequences):
        arr = np.asarray(seq)
        if arr.ndim != 1:
            raise ValueError(f"sequences[{i}] must be 1-D token ids, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"sequences[{i}] must hold integer token ids, got dtype {arr.dtype}")
        # Compared before the cast, which would wrap uint64 ids beyond int64 to negative ones.
        if arr.size and (arr.min() < 0 or arr.max() > np.iinfo(np.int64).max):
            raise ValueError(
                f"sequences[{i}] must hold token ids in [0, {np.iinfo(np.int64).max}], got "
                f"values from {arr.min()} to {arr.max()}"
            )
        arrays.append(arr.astype(np.int64))
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    n_positions = int(lengths.max()) if len(arrays) else 0
    keep = np.arange(n_positions) < lengths[:, None]
    ids = np.full(keep.shape, pad_id, dtype=np.int64)
    ids[keep] = np.concatenate(arrays) if arrays else []
    return ids, keep
