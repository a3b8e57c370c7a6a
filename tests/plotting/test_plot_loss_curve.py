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


def test_a_nan_loss_hides_only_the_windows_that_contain_it():
    losses = np.array([1.0, 3.0, np.nan, 5.0, 7.0, 9.0, 11.0])
    ax = plot_loss_curve(losses, window=2)
    raw, mean = ax.lines[:2]
    np.testing.assert_array_equal(raw.get_ydata(), losses)
    np.testing.assert_allclose(mean.get_ydata(), [1.0, 2.0, np.nan, np.nan, 6.0, 8.0, 10.0])
    ax.figure.canvas.draw()


def test_an_infinite_loss_of_a_diverged_run_is_drawn_like_a_nan():
    losses = np.array([2.0, np.inf, 1.0, 1.0, -np.inf, 4.0, 2.0])
    mean = plot_loss_curve(losses, window=2, log_scale=False).lines[1]
    np.testing.assert_allclose(mean.get_ydata(), [2.0, np.nan, np.nan, 1.0, np.nan, np.nan, 3.0])


def test_running_mean_of_small_losses_after_large_ones_is_exact():
    # A running sum over the whole run would lose the small losses to rounding.
    losses = np.array([1e9] + [3e-9] * 30)
    mean = plot_loss_curve(losses, window=4).lines[1].get_ydata()
    np.testing.assert_allclose(mean[5:], 3e-9, rtol=1e-12)


def test_running_mean_of_huge_losses_does_not_overflow():
    ax = plot_loss_curve([1.5e308, 1.5e308, 1.5e308], window=2, log_scale=False)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 1.5e308)


def test_a_window_longer_than_the_run_averages_everything():
    mean = plot_loss_curve([1.0, 3.0], window=10**12).lines[1].get_ydata()
    np.testing.assert_allclose(mean, [1.0, 2.0])


def test_no_losses_give_an_empty_figure():
    ax = plot_loss_curve([])
    assert [line.get_xdata().size for line in ax.lines] == [0, 0]


def test_references_on_a_linear_scale_may_be_zero_or_negative():
    ax = plot_loss_curve([1.0, -1.0], references={"zero": 0.0, "below": -2.0}, log_scale=False)
    assert [line.get_ydata()[0] for line in ax.lines[2:]] == [0.0, -2.0]


def test_log_scale_refuses_minus_infinity():
    with pytest.raises(ValueError, match="losses must all be positive"):
        plot_loss_curve([1.0, -np.inf])
    assert plt.get_fignums() == []
