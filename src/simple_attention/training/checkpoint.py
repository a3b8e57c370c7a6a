"""Saving trained weights and loading them back: one ``.npz`` file, no pickle.

A trained model is its parameters. :func:`save_weights` writes every array of ``model.params``
under its name into a NumPy ``.npz`` archive, with the model's ``repr`` beside them to say what
it was saved from. :func:`load_weights` reads them with ``allow_pickle=False``, so that a file
from elsewhere can hold only arrays, never code to run, and copies them into a model of the same
shape. A file that does not fit the model (another size, another number of layers, a missing
or extra array) is refused with a message that names the first difference, and the model is
left untouched.
"""

from __future__ import annotations

import os
import zipfile
from typing import IO, Any

import numpy as np

from .._validation import as_float_array

__all__ = ["load_weights", "save_weights"]

# The name of the entry holding repr(model); parameter names never start with an underscore.
_MODEL_KEY = "__model__"

PathOrFile = str | os.PathLike[str] | IO[bytes]


def _params(model: Any) -> dict[str, np.ndarray]:
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        raise TypeError(
            f"model must have a params dict (a Layer or a Model), got {type(model).__name__}"
        )
    return params


def save_weights(model: Any, file: PathOrFile) -> None:
    """Write every parameter of ``model`` to ``file``, an uncompressed ``.npz`` archive.

    Parameters
    ----------
    model : Layer or Model
        Anything with a ``params`` dict of arrays (every model of the library).
    file : str, path or binary file
        Where to write. NumPy appends ``.npz`` to a file name without it.

    Raises
    ------
    TypeError
        If ``model`` has no ``params`` dict.
    ValueError
        If a parameter holds NaN or inf (a diverged model is not worth keeping).

    Examples
    --------
    >>> import io
    >>> from simple_attention import TinyGPT, load_weights, save_weights
    >>> model = TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=1, rng=0)
    >>> buffer = io.BytesIO()
    >>> save_weights(model, buffer)
    >>> copy = TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=1, rng=1)
    >>> _ = buffer.seek(0)
    >>> load_weights(copy, buffer)
    >>> bool((copy([1, 2, 3]) == model([1, 2, 3])).all())
    True
    """
    params = _params(model)
    arrays: dict[str, Any] = {name: as_float_array(p, name) for name, p in params.items()}
    arrays[_MODEL_KEY] = np.array(repr(model))
    np.savez(file, **arrays)


def load_weights(model: Any, file: PathOrFile) -> None:
    """Copy the parameters saved in ``file`` into ``model``, in place.

    Every array must match a parameter of ``model`` in name and shape, and every parameter
    must be in the file; the arrays are cast to the dtype of the parameters. Everything is
    checked before anything is copied, so a file that does not fit leaves the model as it was.
    The file is read with ``allow_pickle=False``.

    Parameters
    ----------
    model : Layer or Model
        A model of the shape that was saved (built with the same arguments; its initial
        weights do not matter).
    file : str, path or binary file
        A file written by :func:`save_weights`.

    Raises
    ------
    ValueError
        If the file is not an ``.npz`` archive of arrays, lacks a parameter of ``model``,
        holds one it does not have, or one of another shape, or holds NaN or inf (also once
        cast to the dtype of the parameter). The message names the array and says what the
        file was saved from.
    TypeError
        If ``model`` has no ``params`` dict.
    FileNotFoundError
        If ``file`` is a path that does not exist.

    Examples
    --------
    >>> import io
    >>> from simple_attention import TinyGPT, load_weights, save_weights
    >>> buffer = io.BytesIO()
    >>> save_weights(TinyGPT(10, 8, d_model=8, n_heads=2, n_layers=2, rng=0), buffer)
    >>> _ = buffer.seek(0)
    >>> load_weights(TinyGPT(10, 8, d_model=8, n_heads=2, n_layers=1, rng=0), buffer)
    Traceback (most recent call last):
        ...
    ValueError: the file holds block1.attention.W_query, which the model has no parameter for; \
the file was saved from TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=2, \
dropout=0.0), the model is TinyGPT(vocab_size=10, max_len=8, d_model=8, n_heads=2, n_layers=1, \
dropout=0.0)
    """
    params = _params(model)
    try:
        archive = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:  # EOFError: empty
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"file is not an .npz archive of arrays: {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("file holds a single array, not an .npz archive of named arrays")
    with archive:
        loaded = {}
        for name in archive.files:
            try:
                loaded[name] = archive[name]
            except ValueError as error:  # an entry that would need pickle
                raise ValueError(
                    f"file holds {name}, which is not a plain array: {error}"
                ) from None
    saved_from = loaded.pop(_MODEL_KEY, None)
    origin = (
        f"; the file was saved from {saved_from}, the model is {model!r}"
        if saved_from is not None
        else ""
    )
    for name in loaded:
        if name not in params:
            raise ValueError(
                f"the file holds {name}, which the model has no parameter for{origin}"
            )
    for name, param in params.items():
        if name not in loaded:
            raise ValueError(f"the file has no array for the model's parameter {name}{origin}")
        array = loaded[name]
        if array.shape != param.shape:
            raise ValueError(
                f"{name} has shape {array.shape} in the file but {param.shape} in the "
                f"model{origin}"
            )
        with np.errstate(over="ignore"):
            cast = as_float_array(array, name).astype(param.dtype, copy=False)
        # A float64 value beyond the parameter's dtype (float16 stops at 65504) would be inf.
        loaded[name] = as_float_array(cast, f"{name} in the model's dtype {param.dtype}")
    for name, param in params.items():
        param[...] = loaded[name]
