r"""Optimizers: turning gradients into parameter updates.

Both optimizers here hold the parameter arrays themselves (the ``params`` of a layer or model)
and change them **in place** at each
:meth:`~simple_attention.training.optim.Optimizer.step`, so the layers see the new values without
being told.

* :class:`SGD` steps against the gradient, :math:`\theta \leftarrow \theta - \eta\,g`,
  optionally with momentum (a running sum of past steps, which smooths noisy gradients).
* :class:`Adam` divides each coordinate's step by a running estimate of that coordinate's
  gradient size, so every parameter moves at a similar rate, about :math:`\eta` per step,
  whatever the scale of its gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_real, working_dtype

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    r"""Common part of the optimizers: the parameters by name and the checks on gradients.

    Parameters
    ----------
    params : mapping of str to ndarray
        The parameter arrays to update in place (floating point, finite, writeable, no two
        sharing memory), e.g. ``layer.params``.
    lr : float
        The learning rate :math:`\eta > 0`.

    Raises
    ------
    TypeError
        If ``params`` is not a mapping (a list of arrays has no names), a name is not a string,
        or a parameter is not a floating-point ndarray.
    ValueError
        If a parameter is read-only, holds NaN or inf, or shares memory with another one (it
        would be updated twice), or ``lr`` is not positive and finite.
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float) -> None:
        if not isinstance(params, Mapping):
            raise TypeError(
                "params must be a mapping of names to arrays, such as layer.params, got "
                f"{type(params).__name__}"
            )
        checked: dict[Any, Any] = dict(params)  # the names are checked, not assumed, to be str
        for name, param in checked.items():
            if not isinstance(name, str):
                raise TypeError(f"params must be named by strings, got the key {name!r}")
            if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
                raise TypeError(f"parameter {name!r} must be a floating-point ndarray")
            if not param.flags.writeable:
                raise ValueError(f"parameter {name!r} must be writeable (updated in place)")
            if not np.isfinite(param).all():
                raise ValueError(f"parameter {name!r} contains NaN or inf")
        names = list(checked)
        for i, name in enumerate(names):
            for other in names[:i]:
                if np.shares_memory(checked[name], checked[other]):
                    raise ValueError(
                        f"parameters {other!r} and {name!r} share memory; each step would "
                        "update it twice"
                    )
        self.lr = check_real(lr, "lr", low=0.0, low_open=True)
        self.params: dict[str, np.ndarray] = checked
        self.n_steps = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, n_params={len(self.params)})"

    def step(self, grads: Mapping[str, Any]) -> None:
        """Update every parameter in place from its gradient ``grads[name]``.

        Either every parameter moves or none does: all gradients are checked, and every
        update is computed and checked, before the first parameter or running state changes.

        A gradient is converted to its parameter's dtype first (integers are accepted and
        converted too) and checked after the conversion, so a float64 gradient too large for a
        float32 parameter is refused rather than turned into inf.

        Raises
        ------
        TypeError
            If ``grads`` is not a mapping, or a gradient holds booleans, complex numbers or
            anything else that is not real (the imaginary part would be dropped).
        KeyError
            If a parameter has no gradient, or a gradient no parameter.
        ValueError
            If a gradient has the wrong shape or holds NaN or inf, also after conversion to the
            parameter's dtype (a diverged run must stop loudly, not keep updating with garbage).
        FloatingPointError
            If the update itself, or the optimizer's running state, would overflow the dtype
            (``lr`` too large for the parameters' range). Nothing is changed.
        """
        if not isinstance(grads, Mapping):
            raise TypeError(
                f"grads must be a mapping of names to arrays, got {type(grads).__name__}"
            )
        if set(grads) != set(self.params):
            missing = sorted(set(self.params) - set(grads), key=str)
            unknown = sorted(set(grads) - set(self.params), key=str)
            raise KeyError(f"gradients missing for {missing}, unknown gradients {unknown}")
        checked = {name: self._check_gradient(name, grads[name]) for name in self.params}
        t = self.n_steps + 1
        new_params: dict[str, np.ndarray] = {}
        new_states: dict[str, dict[str, np.ndarray]] = {}
        for name, param in self.params.items():
            delta, state = self._update(name, checked[name], t)
            with np.errstate(over="ignore", invalid="ignore"):
                new = (param.astype(delta.dtype, copy=False) - delta).astype(param.dtype)
            if not (
                np.isfinite(delta).all()
                and np.isfinite(new).all()
                and all(np.isfinite(value).all() for value in state.values())
            ):
                raise FloatingPointError(
                    f"the update of parameter {name!r} overflowed {param.dtype}; lower lr or "
                    "compute in a wider dtype (nothing was changed)"
                )
            new_params[name] = new
            new_states[name] = state
        for name, param in self.params.items():
            param[...] = new_params[name]
            for attribute, value in new_states[name].items():
                getattr(self, attribute)[name][...] = value
        self.n_steps = t

    def _check_gradient(self, name: str, grad: Any) -> np.ndarray:
        """``grad`` converted to the dtype of parameter ``name``, or an error naming it."""
        param = self.params[name]
        arr = np.asarray(grad)
        if arr.dtype == np.bool_ or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise TypeError(
                f"gradient of {name!r} must hold real numbers, got dtype {arr.dtype}"
                + (" (the imaginary part would be lost)" if arr.dtype.kind == "c" else "")
            )
        if arr.shape != param.shape:
            raise ValueError(
                f"gradient of {name!r} has shape {arr.shape}, parameter {param.shape}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            cast = arr.astype(param.dtype)
        if not np.isfinite(cast).all():
            raise ValueError(
                f"gradient of {name!r} contains NaN or inf, or values beyond the range of the "
                f"parameter's dtype {param.dtype}"
            )
        return cast

    def _update(
        self, name: str, grad: np.ndarray, t: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The step to subtract from parameter ``name`` at step ``t``, and the new state.

        Must not change anything. The state maps the name of an attribute (a dict by parameter
        name, such as ``velocity``) to the parameter's new entry; :meth:`step` copies it in
        only once every parameter's update is known to be finite.
        """
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum.

    .. math:: u \leftarrow \mu\,u + g, \qquad \theta \leftarrow \theta - \eta\,u

    With :math:`\mu = 0` this is the plain step :math:`\theta \leftarrow \theta - \eta g`.

    Parameters
    ----------
    params : mapping of str to ndarray
        The parameters to update in place, e.g. ``layer.params``.
    lr : float
        Learning rate :math:`\eta > 0`.
    momentum : float, default 0.0
        :math:`\mu \in [0, 1)`.

    Attributes
    ----------
    velocity : dict of str to ndarray
        The running sum :math:`u` for each parameter, in the parameter's working dtype
        (float32 for float16 parameters, whose range is too small for a sum of steps).

    Raises
    ------
    TypeError, ValueError
        For bad ``params`` or hyperparameters, see
        :class:`~simple_attention.training.optim.Optimizer`;
        :meth:`~simple_attention.training.optim.Optimizer.step` documents the errors of a step.

    Examples
    --------
    Minimise :math:`(x - 3)^2`, whose gradient is :math:`2(x - 3)`:

    >>> import numpy as np
    >>> from simple_attention import SGD
    >>> x = np.array([0.0])
    >>> opt = SGD({"x": x}, lr=0.1)
    >>> for _ in range(50):
    ...     opt.step({"x": 2 * (x - 3)})
    >>> x.round(6)
    array([2.999957])
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.velocity = {
            name: np.zeros_like(p, dtype=working_dtype(p.dtype)) for name, p in self.params.items()
        }

    def _update(
        self, name: str, grad: np.ndarray, t: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        g = grad.astype(working_dtype(grad.dtype), copy=False)
        if self.momentum == 0.0:
            return self.lr * g, {}
        with np.errstate(over="ignore"):
            velocity = self.velocity[name] * self.momentum + g
            return self.lr * velocity, {"velocity": velocity}


class Adam(Optimizer):
    r"""Adam: steps scaled per coordinate by running moments of the gradient.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1)\,g, \qquad
              v \leftarrow \beta_2 v + (1 - \beta_2)\,g^2,

    .. math:: \theta \leftarrow \theta - \eta\,
              \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \varepsilon}.

    The divisions by :math:`1 - \beta^t` undo the bias of moments that start at zero; thanks to
    them the very first step is :math:`\eta\,g / (|g| + \varepsilon)`, of size almost exactly
    :math:`\eta` in every coordinate. For every finite gradient, however large, each step stays
    finite and of the order of :math:`\eta` (a gradient far below :math:`\varepsilon` moves its
    coordinate less).

    Parameters
    ----------
    params : mapping of str to ndarray
        The parameters to update in place.
    lr : float, default 1e-3
        Learning rate :math:`\eta > 0`.
    betas : tuple of two floats, default (0.9, 0.999)
        Decay rates :math:`\beta_1, \beta_2 \in [0, 1)`.
    eps : float, default 1e-8
        :math:`\varepsilon > 0`, keeps the division finite.

    Attributes
    ----------
    m, v : dict of str to ndarray
        The running moments for each parameter, in the parameter's working dtype (float32 for
        float16 parameters: in float16, ``eps`` and :math:`g^2` of small gradients round to 0).
        ``v`` is stored divided by :math:`4^k`, with a power :math:`k \ge 0` per coordinate
        that is 0 unless a gradient was so large that :math:`g^2` could overflow (from about
        ``3e153`` in float64, ``5e18`` in float32).

    Raises
    ------
    TypeError
        If ``betas`` is not a pair (tuple, list or 1-D array), or for bad ``params`` or
        hyperparameters,
        see :class:`~simple_attention.training.optim.Optimizer`.
    ValueError
        If ``betas`` does not hold two numbers in :math:`[0, 1)`, or ``eps`` is not positive.

    Notes
    -----
    The power of four is exact in binary floating point, so while :math:`k = 0` the
    arithmetic is the textbook one, to the last bit. When a gradient :math:`g` would overflow
    :math:`g^2`, the coordinate's :math:`k` grows until :math:`(g / 2^k)^2` fits, the stored
    ``v`` is rescaled by the same power, and :math:`\sqrt{v}` is scaled back by :math:`2^k`.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention import Adam
    >>> x = np.array([0.0, 10.0])
    >>> opt = Adam({"x": x}, lr=0.1)
    >>> opt.step({"x": np.array([-2.0, 500.0])})  # gradients of very different sizes...
    >>> x  # ...and both coordinates move by lr
    array([0.1, 9.9])
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        pair: object = betas  # the annotation says a pair; a caller may pass anything
        if isinstance(pair, np.ndarray) and pair.ndim == 1:
            pair = betas = tuple(pair.tolist())
        if not isinstance(pair, Sequence) or isinstance(pair, str):
            raise TypeError(f"betas must be a pair of numbers (beta1, beta2), got {betas!r}")
        if len(betas) != 2:
            raise ValueError(f"betas must be two numbers, got {betas!r}")
        self.betas = (
            check_real(betas[0], "betas[0]", low=0.0, high=1.0, high_open=True),
            check_real(betas[1], "betas[1]", low=0.0, high=1.0, high_open=True),
        )
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.m = {
            name: np.zeros_like(p, dtype=working_dtype(p.dtype)) for name, p in self.params.items()
        }
        self.v = {name: np.zeros_like(m) for name, m in self.m.items()}
        self._v_power = {name: np.zeros(p.shape, dtype=np.int64) for name, p in self.m.items()}

    def _update(
        self, name: str, grad: np.ndarray, t: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        beta1, beta2 = self.betas
        g = grad.astype(working_dtype(grad.dtype), copy=False)
        finfo = np.finfo(g.dtype)
        # (g / 2**k)**2 < 2**(2 * half_range) leaves v, a weighted mean of such squares, room.
        half_range = finfo.maxexp // 2 - 2
        old_power = self._v_power[name]
        if g.size and max(g.max(), -g.min()) < 2.0**half_range and not old_power.any():
            # The usual case, k = 0 everywhere: the textbook update, the same to the last bit
            # as the general one below, in a third of the passes over the parameter.
            m = self.m[name] * beta1 + (1 - beta1) * g
            v = self.v[name] * beta2 + (1 - beta2) * g**2
            with np.errstate(over="ignore"):
                delta = self.lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + self.eps)
            if np.isfinite(delta).all():
                return delta, {"m": m, "v": v}
        power = np.maximum(old_power, np.frexp(g)[1] - half_range)
        with np.errstate(over="ignore"):
            # Within rounding, |m| <= max |g|: only a gradient at the very top of the range can
            # round it past the largest float, and clipping it back is then the exact answer.
            m = np.clip(self.m[name] * beta1 + (1 - beta1) * g, -finfo.max, finfo.max)
            m_hat = np.clip(m / (1 - beta1**t), -finfo.max, finfo.max)
        v = (
            np.ldexp(self.v[name], 2 * (old_power - power)) * beta2
            + (1 - beta2) * np.ldexp(g, -power) ** 2
        )
        with np.errstate(over="ignore"):
            root_v_hat = np.minimum(np.ldexp(np.sqrt(v / (1 - beta2**t)), power), finfo.max)
            denominator = root_v_hat + self.eps
            delta = self.lr * m_hat / denominator
            # A large lr times a gradient near the top of the range: divide first.
            delta = np.where(np.isfinite(delta), delta, self.lr * (m_hat / denominator))
        return delta, {"m": m, "v": v, "_v_power": power}
