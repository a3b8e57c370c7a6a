r"""Optimizers: turning gradients into parameter updates.

Both optimizers here hold the parameter arrays themselves (the ``params`` of a layer or model)
and change them **in place** at each :meth:`~Optimizer.step`, so the layers see the new values
without being told.

* :class:`SGD` steps against the gradient, :math:`\theta \leftarrow \theta - \eta\,g`,
  optionally with momentum (a running sum of past steps, which smooths noisy gradients).
* :class:`Adam` divides each coordinate's step by a running estimate of that coordinate's
  gradient size, so every parameter moves at a similar rate, about :math:`\eta` per step,
  whatever the scale of its gradient.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validation import check_real

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    r"""Common part of the optimizers: the parameters by name and the checks on gradients.

    Parameters
    ----------
    params : mapping of str to ndarray
        The parameter arrays to update in place (floating point, writeable).
    lr : float
        The learning rate :math:`\eta > 0`.
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float) -> None:
        self.params = dict(params)
        for name, param in self.params.items():
            # Typed as ndarray, but a caller without a type checker may pass anything.
            value: object = param
            if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
                raise TypeError(f"parameter {name!r} must be a floating-point ndarray")
            if not param.flags.writeable:
                raise ValueError(f"parameter {name!r} must be writeable (updated in place)")
        self.lr = check_real(lr, "lr", low=0.0, low_open=True)
        self.n_steps = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, n_params={len(self.params)})"

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Update every parameter in place from its gradient ``grads[name]``.

        Raises
        ------
        KeyError
            If a parameter has no gradient, or a gradient no parameter.
        ValueError
            If a gradient has the wrong shape or holds NaN or inf (a diverged run must stop
            loudly, not keep updating with garbage).
        """
        if set(grads) != set(self.params):
            missing = sorted(set(self.params) - set(grads))
            unknown = sorted(set(grads) - set(self.params))
            raise KeyError(f"gradients missing for {missing}, unknown gradients {unknown}")
        for name, param in self.params.items():
            grad = np.asarray(grads[name])
            if grad.shape != param.shape:
                raise ValueError(
                    f"gradient of {name!r} has shape {grad.shape}, parameter {param.shape}"
                )
            if not np.isfinite(grad).all():
                raise ValueError(f"gradient of {name!r} contains NaN or inf")
        self.n_steps += 1
        for name, param in self.params.items():
            param -= self._update(name, np.asarray(grads[name], dtype=param.dtype))

    def _update(self, name: str, grad: np.ndarray) -> np.ndarray:
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
        self.velocity = {name: np.zeros_like(p) for name, p in self.params.items()}

    def _update(self, name: str, grad: np.ndarray) -> np.ndarray:
        if self.momentum == 0.0:
            return self.lr * grad
        velocity = self.velocity[name]
        velocity *= self.momentum
        velocity += grad
        return self.lr * velocity


class Adam(Optimizer):
    r"""Adam: steps scaled per coordinate by running moments of the gradient.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1)\,g, \qquad
              v \leftarrow \beta_2 v + (1 - \beta_2)\,g^2,

    .. math:: \theta \leftarrow \theta - \eta\,
              \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \varepsilon}.

    The divisions by :math:`1 - \beta^t` undo the bias of moments that start at zero; thanks to
    them the very first step is :math:`\eta\,g / (|g| + \varepsilon)`, of size almost exactly
    :math:`\eta` in every coordinate.

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
        if len(betas) != 2:
            raise ValueError(f"betas must be two numbers, got {betas!r}")
        self.betas = (
            check_real(betas[0], "betas[0]", low=0.0, high=1.0, high_open=True),
            check_real(betas[1], "betas[1]", low=0.0, high=1.0, high_open=True),
        )
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.m = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.v = {name: np.zeros_like(p) for name, p in self.params.items()}

    def _update(self, name: str, grad: np.ndarray) -> np.ndarray:
        beta1, beta2 = self.betas
        m, v = self.m[name], self.v[name]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad**2
        m_hat = m / (1 - beta1**self.n_steps)
        v_hat = v / (1 - beta2**self.n_steps)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
