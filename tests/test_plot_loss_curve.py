"""plot_loss_curve: raw losses, running mean, reference levels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt

from simple_attention.plotting import plot_loss_curve


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_running_mean_averages_the_last_window_steps():
    losses = np.array([4.0, 2.0, 6.0, 8.0, 1.0])
    ax = plot_loss_curve(losses, window=2)
    raw, mean = ax.lines[:2]
    np.testing.assert_array_equal(raw.get_ydata(), losses)
    np.testing.assert_allclose(mean.get_ydata(), [4.0, 3.0, 4.0, 7.0, 4.5])
    np.testing.assert_array_equal(mean.get_xdata(), [1, 2, 3, 4, 5])


def test_references_are_horizontal_lines():
    ax = plot_loss_curve([3.0, 2.0, 1.0], references={"chance": 2.5, "goal": 0.1})
    assert [line.get_label() for line in ax.lines[2:]] == ["chance", "goal"]
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), [2.5, 2.5])


def test_linear_scale_allows_zero_and_log_scale_refuses_it():
    assert plot_loss_curve([1.0, 0.0], log_scale=False).get_yscale() == "linear"
    with pytest.raises(ValueError, match="positive"):
        plot_loss_curve([1.0, 0.0])


def test_rejects_bad_window_and_shape():
    with pytest.raises(ValueError, match="window must be positive"):
        plot_loss_curve([1.0, 2.0], window=0)
    with pytest.raises(TypeError, match="window must be an integer"):
        plot_loss_curve([1.0, 2.0], window=2.5)
    with pytest.raises(ValueError, match="1-D"):
        plot_loss_curve(np.ones((2, 2)))


def test_draws_into_a_given_axes():
    _, ax = plt.subplots()
    assert plot_loss_curve([2.0, 1.0], ax=ax, title=None) is ax
    assert ax.get_title() == ""
