r"""A key-value cache: generating one token at a time without recomputing the past.

A causal model produces text one token at a time. At step :math:`t` the new token needs its
query compared with the keys of *all* tokens so far, and their values averaged. Those keys and
values never change once computed (causality: a token's key depends only on the token), so
instead of projecting the whole prefix again at every step, a cache keeps them and each step
appends one new key and one new value.

The mask must then be aligned at the **bottom right**. With :math:`m` new queries and
:math:`n_k` keys in the cache (the new ones included), the new queries are the *last* :math:`m`
positions, so query :math:`i` may see keys :math:`j \le n_k - m + i`.
:func:`~simple_attention.causal_mask` is aligned at the top left instead (query :math:`i` sees
keys :math:`j \le i`): with one new query and :math:`n_k` keys it would let the newest token see
only the very first key.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, check_same_dtype

__all__ = ["KVCache"]


class KVCache:
    """The keys and values of every position decoded so far.

    Each :meth:`append` adds the keys and values of the new positions along the positions axis
    (``-2``) and returns everything cached so far. The leading (batch, head) dimensions and the
    feature sizes must stay the same from one call to the next.

    Attributes
    ----------
    keys : ndarray, shape (..., n_keys, d_k), or None
        Every cached key, read-only; ``None`` while empty.
    values : ndarray, shape (..., n_keys, d_v), or None
        Every cached value, read-only, in the dtype of the keys; ``None`` while empty.

    See Also
    --------
    simple_attention.MultiHeadAttention.decode_step : decoding with a cache.
    causal_mask_bottom_right : the mask for the new queries.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import KVCache
    >>> cache = KVCache()
    >>> len(cache)
    0
    >>> keys, values = cache.append(np.ones((2, 1, 4)), np.zeros((2, 1, 3)))  # 2 heads
    >>> keys, values = cache.append(np.ones((2, 1, 4)), np.zeros((2, 1, 3)))
    >>> len(cache), keys.shape, values.shape
    (2, (2, 2, 4), (2, 2, 3))
    >>> cache.append(np.ones((2, 1, 5)), np.zeros((2, 1, 3)))
    Traceback (most recent call last):
        ...
    ValueError: key has shape (2, 1, 5), the cached keys (2, 2, 4): only axis -2 may differ
    """

    def __init__(self) -> None:
        self.keys: np.ndarray | None = None
        self.values: np.ndarray | None = None

    def __len__(self) -> int:
        """The number of cached positions."""
        return 0 if self.keys is None else self.keys.shape[-2]

    def __repr__(self) -> str:
        return f"KVCache(positions={len(self)})"

    def reset(self) -> None:
        """Forget everything, to start a new sequence."""
        self.keys = None
        self.values = None

    def append(self, key: npt.ArrayLike, value: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Add the keys ``(..., m, d_k)`` and values ``(..., m, d_v)`` of ``m`` new positions.

        Returns the keys ``(..., n_keys, d_k)`` and values ``(..., n_keys, d_v)`` of all ``n_keys``
        positions cached so far, the new ones last. They are the cache's own arrays, read-only (as
        are :attr:`keys` and :attr:`values`): writing to them raises ``ValueError`` instead of
        corrupting the cache. The cache keeps copies, never the caller's arrays. An append that
        raises leaves the cache as it was.

        Raises
        ------
        ValueError
            If ``key`` and ``value`` do not have the same number of positions, or do not match
            the shapes already cached, or hold NaN or inf.
        TypeError
            If ``key`` and ``value`` differ in dtype, or their dtype differs from the cached one.
        """
        self.keys, self.values = self.extended(key, value)
        return self.keys, self.values

    def extended(self, key: npt.ArrayLike, value: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """What :meth:`append` would store and return, checked but not stored.

        Returns new read-only arrays, the keys ``(..., n_keys, d_k)`` and values
        ``(..., n_keys, d_v)`` of the cached positions followed by the new ones; the cache is
        unchanged. A step that may still fail (a decoding step, say) computes with these and stores
        them (as :attr:`keys` and :attr:`values`) only once it has succeeded. Raises what
        :meth:`append` raises.

        Examples
        --------
        >>> import numpy as np
        >>> from simple_attention import KVCache
        >>> cache = KVCache()
        >>> keys, values = cache.extended(np.ones((1, 4)), np.zeros((1, 3)))
        >>> keys.shape, len(cache)
        ((1, 4), 0)
        """
        k = as_float_array(key, "key")
        v = as_float_array(value, "value")
        for name, arr in (("key", k), ("value", v)):
            if arr.ndim < 2:
                raise ValueError(
                    f"{name} must be at least 2-D (..., n_positions, n_features), "
                    f"got shape {arr.shape}"
                )
        if k.shape[:-1] != v.shape[:-1]:
            raise ValueError(
                f"key {k.shape} and value {v.shape} must agree in every dimension but the last"
            )
        check_same_dtype(key=k, value=v)
        if self.keys is None or self.values is None:
            keys, values = k.copy(), v.copy()
        else:
            for name, new, old in (("key", k, self.keys), ("value", v, self.values)):
                if new.shape[:-2] != old.shape[:-2] or new.shape[-1] != old.shape[-1]:
                    raise ValueError(
                        f"{name} has shape {new.shape}, the cached {name}s {old.shape}: "
                        "only axis -2 may differ"
                    )
                if new.dtype != old.dtype:
                    raise TypeError(
                        f"{name} has dtype {new.dtype} but the cached {name}s have dtype "
                        f"{old.dtype}"
                    )
            keys = np.concatenate([self.keys, k], axis=-2)
            values = np.concatenate([self.values, v], axis=-2)
        keys.flags.writeable = False
        values.flags.writeable = False
        return keys, values
