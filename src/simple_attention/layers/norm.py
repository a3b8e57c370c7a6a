r"""Layer normalisation: every token vector rescaled to mean 0 and variance 1, then affine.

A transformer block adds the output of attention and of the feed-forward layer to its input
("residual" connections); without normalisation the scale of those sums drifts from layer to
layer. :class:`LayerNorm` normalises each token vector on its own (over its features, the last
axis), so it does not depend on the batch or on the other tokens, and then lets the model undo
as much of that as it needs with a learned scale :math:`\gamma` and shift :math:`\beta`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._validation import as_float_array, check_positive_int, check_real, working_dtype
from .base import Layer

__all__ = ["LayerNorm"]


class LayerNorm(Layer):
    r"""Normalise the last axis to mean 0, variance 1, then scale by ``gamma``, shift by ``beta``.

    For each vector :math:`x` of ``d_model`` features (every position of every sequence):

    .. math::

        \mu = \frac{1}{d} \sum_i x_i, \qquad
        \sigma^2 = \frac{1}{d} \sum_i (x_i - \mu)^2, \qquad
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad
        y = \gamma \odot \hat x + \beta.

    The variance is the biased one (divided by :math:`d`, not :math:`d - 1`) and
    :math:`\varepsilon` sits inside the square root, as in ``torch.nn.functional.layer_norm``.

    The backward pass, derived by hand, with :math:`g = \partial \mathcal{L} / \partial y` and
    :math:`\sigma = \sqrt{\sigma^2 + \varepsilon}`:

    .. math::

        \frac{\partial \mathcal{L}}{\partial \gamma} = \sum g \odot \hat x, \qquad
        \frac{\partial \mathcal{L}}{\partial \beta} = \sum g, \qquad
        \frac{\partial \mathcal{L}}{\partial x} = \frac{1}{\sigma} \Bigl(g \odot \gamma
            - \operatorname{mean}(g \odot \gamma)
            - \hat x \odot \operatorname{mean}(g \odot \gamma \odot \hat x)\Bigr),

    where the sums run over every leading (batch) dimension, since one :math:`\gamma` and
    :math:`\beta` serve every vector, and the means over the features of one vector. The two
    means are what the normalisation takes away: the gradient of :math:`\hat x` can neither
    shift the mean nor change the variance of :math:`x`.

    Parameters
    ----------
    d_model : int
        The number of features of each vector (the size of the last axis).
    eps : float, default 1e-5
        Added to the variance before the square root, positive and finite: it keeps a constant
        vector (variance 0) from dividing by zero.

    Attributes
    ----------
    gamma : ndarray, shape (d_model,)
        The scale, ones at the start.
    beta : ndarray, shape (d_model,)
        The shift, zeros at the start.
    params, grads : dict of str to ndarray
        ``{"gamma": gamma, "beta": beta}`` and their gradients after :meth:`backward`.

    Raises
    ------
    TypeError
        If ``d_model`` is not an integer or ``eps`` not a real number.
    ValueError
        If ``d_model`` is not positive or ``eps`` not positive and finite.

    Examples
    --------
    >>> import numpy as np
    >>> from simple_attention.layers.norm import LayerNorm
    >>> norm = LayerNorm(4)
    >>> y = norm(np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 10.0]]))
    >>> y.round(4)
    array([[-1.3416, -0.4472,  0.4472,  1.3416],
           [ 0.    ,  0.    ,  0.    ,  0.    ]])

    A constant gradient changes nothing in the input (it would only shift the output, and the
    mean is taken away), but the shift ``beta`` collects it from every row:

    >>> bool(np.abs(norm.backward(np.ones((2, 4)))).max() < 1e-12)
    True
    >>> norm.grads["beta"]
    array([2., 2., 2., 2.])
    """

    param_names = ("gamma", "beta")

    def __init__(self, d_model: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.d_model = check_positive_int(d_model, "d_model")
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.gamma = np.ones(self.d_model)
        self.beta = np.zeros(self.d_model)

    def __repr__(self) -> str:
        return f"LayerNorm(d_model={self.d_model}, eps={self.eps})"

    def __call__(self, x: npt.ArrayLike) -> np.ndarray:
        """Normalise ``x`` of shape ``(..., d_model)``; the result has its shape and dtype.

        float16 is computed in float32, as in the other layers.

        Raises
        ------
        ValueError
            If ``x`` is not ``(..., d_model)``, or ``x``, ``gamma`` or ``beta`` (named) holds
            NaN or inf.
        TypeError
            If ``x`` is not real floating-point or integer.
        FloatingPointError
            If the variance of a vector overflows (float64 entries beyond about 1e154, float32
            beyond 1e19), or the result overflows the dtype of ``x``.
        """
        x_arr = as_float_array(x, "x")
        if x_arr.ndim < 1 or x_arr.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (..., {self.d_model}), got {x_arr.shape}")
        self._check_params()
        work = working_dtype(x_arr.dtype)
        xw = x_arr.astype(work, copy=False)
        gamma = self.gamma.astype(work, copy=False)  # (d_model,)
        beta = self.beta.astype(work, copy=False)  # (d_model,)
        with np.errstate(over="ignore", invalid="ignore"):
            mu = xw.mean(axis=-1, keepdims=True)  # (..., 1)
            centred = xw - mu  # (..., d_model)
            var = (centred * centred).mean(axis=-1, keepdims=True)  # (..., 1), biased
        # An overflowed variance would give 1/sigma = 0 and silently zero the row: refuse it.
        var = self._finite(var, "the variance")
        inv_sigma = 1.0 / np.sqrt(var + self.eps)  # (..., 1)
        x_hat = centred * inv_sigma  # (..., d_model): mean 0, variance var / (var + eps)
        with np.errstate(over="ignore", invalid="ignore"):
            out = gamma * x_hat + beta  # (..., d_model)
        out = self._finite(out, "the output", x_arr.dtype)
        self._cache = {
            "x_hat": x_hat,
            "inv_sigma": inv_sigma,
            "dtype": x_arr.dtype,
            "out_shape": out.shape,
        }
        return out

    def backward(self, grad_out: npt.ArrayLike) -> np.ndarray:
        r"""Return dL/dx and fill ``grads`` with :math:`\sum g \hat x` and :math:`\sum g`.

        The formulas are those of the class docstring. dL/dx has the dtype of the last input,
        the gradients that of the parameters.

        Raises
        ------
        RuntimeError
            If the layer has not been called yet, or its last call raised.
        ValueError
            If ``grad_out`` does not have the shape of the last output, or holds NaN or inf.
        TypeError
            If ``grad_out`` is not real (complex gradients are refused).
        FloatingPointError
            If a gradient overflows its dtype; ``grads`` is then left as it was.
        """
        saved = self._saved()
        x_hat = saved["x_hat"]  # (..., d_model)
        inv_sigma = saved["inv_sigma"]  # (..., 1)
        g = self._grad_out(grad_out, saved["out_shape"]).astype(x_hat.dtype, copy=False)
        gamma = self.gamma.astype(x_hat.dtype, copy=False)  # (d_model,)
        with np.errstate(over="ignore", invalid="ignore"):
            g_flat = g.reshape(-1, self.d_model)  # (n, d_model): every leading dim summed below
            grad_gamma = (g_flat * x_hat.reshape(-1, self.d_model)).sum(axis=0)  # (d_model,)
            grad_beta = g_flat.sum(axis=0)  # (d_model,)
            grad_x_hat = g * gamma  # (..., d_model)
            grad_x = inv_sigma * (
                grad_x_hat
                - grad_x_hat.mean(axis=-1, keepdims=True)
                - x_hat * (grad_x_hat * x_hat).mean(axis=-1, keepdims=True)
            )  # (..., d_model)
        grads = {
            "gamma": self._finite(grad_gamma, "the gradient of gamma", self.gamma.dtype),
            "beta": self._finite(grad_beta, "the gradient of beta", self.beta.dtype),
        }
        grad_x = self._finite(grad_x, "the gradient of x", saved["dtype"])
        self._store_grads(grads)
        return grad_x
