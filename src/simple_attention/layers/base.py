"""The interface every trainable piece of the library shares: :class:`Layer`.

Call a layer to run it forward, call :meth:`Layer.backward` with the gradient of a loss with
respect to its output to get the gradient with respect to its input, and find the gradients of
its parameters in ``grads``, under the same names as the parameters in ``params``. The class
lives in a module of its own so that a layer (an embedding, say) depends on this interface only,
not on attention.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, check_flag

__all__ = ["Layer"]


class Layer:
    """The interface every trainable piece shares: forward, backward, parameters, gradients.

    A subclass runs forward in ``__call__`` and keeps there what its backward pass needs;
    :meth:`backward` then turns the gradient of a loss with respect to the output into the
    gradient with respect to the input, and stores the gradient of every parameter in
    :attr:`grads`. Leading (batch) dimensions of the input are summed into the parameter
    gradients, because the same parameters serve every sequence in the batch.

    A layer's backward pass belongs to its last *successful* call: every call first forgets
    what the previous one kept, so after a call that raised, :meth:`backward` raises
    ``RuntimeError`` until the next successful call (it cannot mix the two calls up). Subclasses
    get this for free: ``__init_subclass__`` wraps the ``__call__`` they define. What a call
    keeps is its own copy, so refilling the input's buffer before the backward pass changes
    nothing.

    Attributes
    ----------
    params : dict of str to ndarray
        The trainable parameters by name: the arrays themselves, so that an optimizer can update
        them in place.
    grads : dict of str to ndarray
        The gradient of the loss with respect to each parameter, same names and shapes as
        :attr:`params`; filled by :meth:`backward`, empty before.
    layers : dict of str to Layer
        The sub-layers: every :class:`Layer` assigned as a public attribute, in assignment
        order. Their parameters and gradients appear in :attr:`params` and :attr:`grads` as
        ``"<sub-layer>.<parameter>"``, and :meth:`train` and :meth:`eval` switch them too.
    training : bool
        ``True`` in training mode (the default), ``False`` after :meth:`eval`.

    See Also
    --------
    simple_attention.gradcheck_layer : compares ``backward`` with finite differences.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import SelfAttention
    >>> layer = SelfAttention(d_in=3, d_out=2, rng=0)
    >>> layer.backward(np.ones((4, 2)))
    Traceback (most recent call last):
        ...
    RuntimeError: call the SelfAttention layer on an input before its backward pass
    >>> context = layer(np.ones((4, 3)))
    >>> grad_x = layer.backward(np.ones_like(context))
    >>> grad_x.shape
    (4, 3)
    >>> {name: g.shape for name, g in layer.grads.items()}
    {'W_query': (3, 2), 'W_key': (3, 2), 'W_value': (3, 2)}
    """

    #: The names of the layer's own parameters, in the order of :attr:`params`.
    param_names: ClassVar[tuple[str, ...]] = ()
    _layers: dict[str, Layer]

    def __init__(self) -> None:
        # Set through the object itself: __setattr__ below needs the registry first.
        object.__setattr__(self, "_layers", {})
        self.training = True
        self._grads: dict[str, np.ndarray] = {}
        self._cache: dict[str, Any] | None = None
        self._sublayer_calls: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("__call__")
        if forward is not None:
            cls.__call__ = _forgetting_the_last_call(forward)  # type: ignore[method-assign]

    def __setattr__(self, name: str, value: Any) -> None:
        # A layer assigned as an attribute is a sub-layer, registered in assignment order.
        if isinstance(value, Layer) and not name.startswith("_"):
            self._layers[name] = value
        object.__setattr__(self, name, value)

    @property
    def layers(self) -> dict[str, Layer]:
        """The sub-layers by attribute name, in the order they were assigned."""
        return dict(self._layers)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The trainable parameters by name (the arrays themselves, not copies).

        The layer's own parameters (:attr:`param_names`) first, then those of every sub-layer
        as ``"<sub-layer>.<parameter>"``.
        """
        params = {name: getattr(self, name) for name in self.param_names}
        for layer_name, layer in self._layers.items():
            params.update({f"{layer_name}.{n}": p for n, p in layer.params.items()})
        return params

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last :meth:`backward`, under the names of :attr:`params`.

        For a layer without sub-layers this is the layer's own dict (as a plain attribute would
        be), so that code which edits a gradient in place keeps working.
        """
        if not self._layers:
            return self._grads
        grads = dict(self._grads)
        for layer_name, layer in self._layers.items():
            grads.update({f"{layer_name}.{n}": g for n, g in layer.grads.items()})
        return grads

    def _store_grads(self, grads: dict[str, np.ndarray]) -> None:
        """Keep the gradients of the layer's own parameters, once all of them are computed."""
        self._grads.update(grads)

    def train(self, mode: bool = True) -> Self:
        """Switch to training mode (or evaluation mode with ``mode=False``); return self.

        Every sub-layer switches too.

        Raises
        ------
        TypeError
            If ``mode`` is not a bool (a truthy string such as ``"no"`` is refused); the mode
            is then unchanged.
        """
        mode = check_flag(mode, "mode")
        self.training = mode
        for layer in self._layers.values():
            layer.train(mode)
        return self

    def eval(self) -> Self:
        """Switch to evaluation mode (and every sub-layer with it); return self."""
        return self.train(False)

    def astype(self, dtype: npt.DTypeLike) -> Self:
        """Cast every parameter (of every sub-layer too) to ``dtype``; return self.

        The parameters become new arrays, so build the optimizer after the cast. The layers
        compute in the dtype of their input, and a model's input comes from its embedding
        table, so ``model.astype(np.float32)`` makes the whole forward and backward pass
        float32: about twice as fast as float64, with about 7 significant digits instead of 16
        (plenty to train with; gradient checks need float64).

        Raises
        ------
        TypeError
            If ``dtype`` is not float16, float32 or float64.
        ValueError
            If a parameter would overflow ``dtype`` (nothing is cast then).

        Examples
        --------
        >>> import numpy as np
        >>> from simple_attention import Linear
        >>> layer = Linear(3, 2, rng=0).astype(np.float32)
        >>> layer.W.dtype, layer(np.ones((1, 3), dtype=np.float32)).dtype
        (dtype('float32'), dtype('float32'))
        """
        target = np.dtype(dtype)
        if target not in (np.float16, np.float32, np.float64):
            raise TypeError(f"dtype must be float16, float32 or float64, got {target}")
        cast = {}
        for name, param in self.params.items():
            with np.errstate(over="ignore"):
                cast[name] = param.astype(target)
            as_float_array(cast[name], name)  # overflowed to inf: refuse before changing anything
        for name, array in cast.items():
            *path, attribute = name.split(".")
            owner: Layer = self
            for part in path:
                owner = owner._layers[part]
            setattr(owner, attribute, array)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """Run the layer forward and keep what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray | None:
        """Return dL/dx for ``grad_out`` = dL/d(output) and fill :attr:`grads`.

        Layers whose input is not differentiable (token ids) return ``None``.
        """
        raise NotImplementedError

    def _saved(self) -> dict[str, Any]:
        """What the last forward call kept for the backward pass.

        Raises ``RuntimeError`` if there was no successful call, or if a sub-layer has been
        called on its own since: its backward pass would then belong to that other call.
        """
        if self._cache is None:
            raise RuntimeError(
                f"call the {type(self).__name__} layer on an input before its backward pass"
            )
        for name, layer in self._layers.items():
            if layer._cache is not self._sublayer_calls.get(name):
                raise RuntimeError(
                    f"the {name} layer was called on its own since the last call of the "
                    f"{type(self).__name__}; call the {type(self).__name__} again before its "
                    "backward pass"
                )
        return self._cache

    def _check_input(self, x: npt.ArrayLike, n_features: int, size_name: str) -> np.ndarray:
        """Validate ``x`` of shape ``(..., n_tokens, n_features)`` and the parameters.

        Returns ``x`` as a float array. Every parameter is checked too: a training run that
        diverged to NaN must fail here, naming the parameter, not produce NaN silently.
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 2:
            raise ValueError(
                f"x must be at least 2-D (..., n_tokens, {size_name}), got shape {x_arr.shape}"
            )
        if x_arr.shape[-1] != n_features:
            raise ValueError(
                f"x has {x_arr.shape[-1]} features but the layer expects {size_name}={n_features}"
            )
        self._check_params()
        return x_arr

    def _check_params(self) -> None:
        """Raise ``ValueError`` naming the first parameter that holds NaN or inf.

        A training run that diverged must fail at the first layer it reaches, not carry NaN on.
        """
        for name, W in self.params.items():
            as_float_array(W, name)

    def _grad_out(self, grad_out: npt.ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
        """Validate the upstream gradient against the shape of the last output.

        Complex, boolean and non-numeric gradients raise ``TypeError``, NaN or inf
        ``ValueError``.
        """
        g = as_float_array(grad_out, "grad_out")
        if g.shape != shape:
            raise ValueError(f"grad_out has shape {g.shape} but the last output had shape {shape}")
        return g

    def _finite(
        self, result: np.ndarray, what: str, dtype: np.dtype[Any] | None = None
    ) -> np.ndarray:
        """Return ``result`` cast to ``dtype`` (if given), or raise if it overflowed.

        Inputs and parameters are finite by then, so inf or NaN can only come from overflow
        (most easily of float16, whose largest value is 65504): ``FloatingPointError``, as for
        overflowing attention scores, and no ``RuntimeWarning`` from the cast on the way.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            cast = result if dtype is None else result.astype(dtype, copy=False)
        if not np.isfinite(cast).all():
            raise FloatingPointError(
                f"{what} of the {type(self).__name__} layer overflowed {cast.dtype} (inf or "
                "NaN from finite inputs and parameters); use a wider dtype or smaller inputs"
            )
        return cast


def _forgetting_the_last_call(forward: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a layer's ``__call__`` so that it first drops what the previous call saved.

    A call that raises then leaves nothing for :meth:`Layer.backward`, which raises
    ``RuntimeError``, instead of state half from this call and half from the one before.
    """

    @functools.wraps(forward)
    def call(self: Layer, *args: Any, **kwargs: Any) -> Any:
        self._cache = None
        out = forward(self, *args, **kwargs)
        if self._cache is None:  # a layer that keeps nothing of its own (a model, say)
            self._cache = {}
        # What each sub-layer kept, to tell in backward whether one was called on its own since.
        self._sublayer_calls = {name: layer._cache for name, layer in self._layers.items()}
        return out

    return call


def sum_outer(x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``x^T @ grad`` summed over every leading (batch) dimension: the gradient of ``x @ W``."""
    return x.reshape(-1, x.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])
