"""generate and next_token_distribution: cache or not, greedy, top-k, windows, modes, errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from simple_attention import TinyGPT, generate, next_token_distribution, softmax

from tolerances import TOLERANCES

SUM_TOL = TOLERANCES[np.float64][1]
VOCAB, MAX_LEN = 11, 6


@pytest.fixture(scope="module")
def model() -> TinyGPT:
    """Token and position vectors of standard deviation 1 (not 0.02): logits far from uniform.

    Untied: with these tables a tied head mostly scores the current token highest, and greedy
    decoding would repeat it, which tests nothing.
    """
    gpt = TinyGPT(VOCAB, MAX_LEN, d_model=8, n_heads=2, n_layers=2, tie_weights=False, rng=0)
    gpt.embedding.weight *= 50.0
    gpt.positions.weight *= 50.0
    return gpt


class FixedLogits:
    """A model whose logits are ``scores`` at every position: what it draws is predictable."""

    def __init__(self, scores: np.ndarray, max_len: int = 4, fail: bool = False) -> None:
        self.scores = np.asarray(scores, dtype=np.float64)
        self.vocab_size = self.scores.size
        self.max_len = max_len
        self.training = True
        self.fail = fail
        self.calls = 0
        self.modes: list[bool] = []

    def train(self, mode: bool = True) -> FixedLogits:
        self.training = mode
        return self

    def eval(self) -> FixedLogits:
        return self.train(False)

    def __call__(self, ids: Any) -> np.ndarray:
        self.calls += 1
        self.modes.append(self.training)
        if self.fail:
            raise RuntimeError("the model broke")
        ids = np.asarray(ids)
        return np.broadcast_to(self.scores, (*ids.shape, self.vocab_size))


# --- cache or not -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0, 3.0])
@pytest.mark.parametrize("top_k", [None, 1, 3])
def test_cached_and_uncached_give_the_same_tokens(model, seed, temperature, top_k) -> None:
    # 10 new tokens after 3: the last 7 steps run past max_len = 6, on a sliding window.
    prompt = [[1, 2, 3], [4, 0, 9]]
    kwargs = {"temperature": temperature, "top_k": top_k, "rng": seed}
    cached = generate(model, prompt, 10, use_cache=True, **kwargs)
    uncached = generate(model, prompt, 10, use_cache=False, **kwargs)
    np.testing.assert_array_equal(cached, uncached)
    assert cached.shape == (2, 13)
    assert cached.dtype == np.int64


def test_a_prompt_that_fills_max_len_continues_on_a_window(model) -> None:
    prompt = np.arange(MAX_LEN) % VOCAB
    for seed in range(3):
        np.testing.assert_array_equal(
            generate(model, prompt, 4, rng=seed),
            generate(model, prompt, 4, rng=seed, use_cache=False),
        )


def test_sampling_draws_different_tokens_than_greedy(model) -> None:
    # Otherwise the comparisons above could pass with a generate that ignores the rng.
    greedy = generate(model, [1, 2, 3], 10, temperature=0)
    sampled = [generate(model, [1, 2, 3], 10, temperature=3.0, rng=seed) for seed in range(3)]
    assert any(not np.array_equal(s, greedy) for s in sampled)
    assert not np.array_equal(sampled[0], sampled[1])


# --- greedy and top-k -------------------------------------------------------------------------


def greedy_by_hand(model: TinyGPT, prompt: list[int], n_new: int) -> np.ndarray:
    ids = list(prompt)
    for _ in range(n_new):
        logits = model(np.array(ids[-model.max_len :]))[-1]  # the last max_len tokens
        ids.append(int(np.argmax(logits)))
    return np.array(ids)


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no-cache"])
def test_greedy_is_the_argmax_of_the_logits_step_by_step(model, use_cache) -> None:
    expected = greedy_by_hand(model, [5, 1, 7], 9)
    out = generate(model, [5, 1, 7], 9, temperature=0, use_cache=use_cache)
    np.testing.assert_array_equal(out, expected)
    assert len(set(out[3:].tolist())) > 1  # not one token repeated: the check has teeth


def test_greedy_ignores_the_rng_and_is_deterministic(model) -> None:
    runs = [generate(model, [2, 3], 8, temperature=0, rng=seed) for seed in (0, 1, None)]
    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 10.0])
def test_top_k_of_one_is_greedy(model, temperature) -> None:
    greedy = generate(model, [[2, 3], [7, 7]], 9, temperature=0)
    for seed in range(3):
        out = generate(model, [[2, 3], [7, 7]], 9, temperature=temperature, top_k=1, rng=seed)
        np.testing.assert_array_equal(out, greedy)


def test_tokens_outside_the_top_k_never_appear() -> None:
    # Logits 0, 1, ..., 9: at a high temperature every token is about equally likely, but
    # top_k=3 leaves 7, 8 and 9 only, and all three appear.
    stub = FixedLogits(np.arange(10.0))
    out = generate(stub, [0], 300, temperature=50.0, top_k=3, rng=0, use_cache=False)
    assert set(out[1:].tolist()) == {7, 8, 9}
    free = generate(stub, [0], 300, temperature=50.0, rng=0, use_cache=False)
    assert len(set(free[1:].tolist())) == 10


def test_each_token_of_the_model_lies_in_the_top_k_of_its_step(model) -> None:
    out = generate(model, [4, 4, 1], 12, temperature=20.0, top_k=2, rng=5)
    for t in range(3, out.size):
        window = out[max(0, t - MAX_LEN) : t]
        logits = model(window)[-1]
        assert out[t] in np.argsort(logits)[-2:]


def test_a_distribution_with_a_single_nonzero_token_always_draws_it() -> None:
    stub = FixedLogits([0.0, 0.0, 1000.0, 0.0])
    out = generate(stub, [[0], [1]], 50, rng=0, use_cache=False)
    np.testing.assert_array_equal(out[:, 1:], 2)


# --- shapes, modes, arguments -----------------------------------------------------------------


def test_one_prompt_and_a_batch(model) -> None:
    one = generate(model, [1, 2, 3], 4, rng=0)
    assert one.shape == (7,)
    np.testing.assert_array_equal(one[:3], [1, 2, 3])
    batch = generate(model, [[1, 2, 3], [3, 2, 1]], 4, temperature=0)
    assert batch.shape == (2, 7)
    for row, prompt in zip(batch, ([1, 2, 3], [3, 2, 1]), strict=True):
        np.testing.assert_array_equal(row, generate(model, prompt, 4, temperature=0))
    assert generate(model, np.zeros((0, 3), dtype=int), 4).shape == (0, 7)


def test_no_new_tokens_returns_the_prompt(model) -> None:
    prompt = np.array([3, 1, 4], dtype=np.int32)
    out = generate(model, prompt, 0)
    np.testing.assert_array_equal(out, prompt)
    assert out.dtype == np.int64
    assert not np.shares_memory(out, prompt)
    np.testing.assert_array_equal(generate(model, [[1], [2]], 0), [[1], [2]])


def test_same_seed_same_text_and_a_generator_advances(model) -> None:
    a = generate(model, [1, 2], 10, temperature=2.0, rng=7)
    np.testing.assert_array_equal(a, generate(model, [1, 2], 10, temperature=2.0, rng=7))
    assert not np.array_equal(a, generate(model, [1, 2], 10, temperature=2.0, rng=8))
    gen = np.random.default_rng(7)
    first = generate(model, [1, 2], 10, temperature=2.0, rng=gen)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, generate(model, [1, 2], 10, temperature=2.0, rng=gen))


@pytest.mark.parametrize("mode", [True, False], ids=["train", "eval"])
def test_the_model_runs_in_eval_mode_and_gets_its_mode_back(mode) -> None:
    stub = FixedLogits(np.arange(5.0)).train(mode)
    generate(stub, [1], 3, rng=0, use_cache=False)
    assert stub.modes == [False, False, False]
    assert stub.training is mode


def test_the_mode_comes_back_when_the_model_raises() -> None:
    stub = FixedLogits(np.arange(5.0), fail=True)
    with pytest.raises(RuntimeError, match="broke"):
        generate(stub, [1], 3, use_cache=False)
    assert stub.training is True


def test_a_tinygpt_with_dropout_gets_its_mode_back_also_after_an_error() -> None:
    gpt = TinyGPT(VOCAB, MAX_LEN, d_model=8, n_heads=2, n_layers=1, dropout=0.5, rng=0)
    a = generate(gpt, [1, 2], 6, rng=0)
    assert gpt.training is True
    np.testing.assert_array_equal(a, generate(gpt, [1, 2], 6, rng=0, use_cache=False))
    gpt.block0.ffn.up.W[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"block0\.ffn\.up\.W"):
        generate(gpt, [1, 2], 3)
    assert gpt.training is True


@pytest.mark.parametrize(
    ("prompt", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "prompt_ids"),
        (np.zeros(0, dtype=int), {}, ValueError, "prompt_ids"),
        (np.zeros((2, 0), dtype=int), {}, ValueError, "prompt_ids"),
        ([[1, 2], [3]], {}, ValueError, "prompt_ids"),
        (np.zeros((1, 1, 2), dtype=int), {}, ValueError, "prompt_ids"),
        (3, {}, ValueError, "prompt_ids"),
        ([1.0, 2.0], {}, TypeError, "prompt_ids"),
        ([True], {}, TypeError, "prompt_ids"),
        ([0, 5], {}, ValueError, "prompt_ids"),
        ([-1], {}, ValueError, "prompt_ids"),
        ([0, 1, 2, 3, 4], {}, ValueError, "max_len"),
        ([1], {"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ([1], {"max_new_tokens": 2.0}, TypeError, "max_new_tokens"),
        ([1], {"max_new_tokens": True}, TypeError, "max_new_tokens"),
        ([1], {"temperature": -0.1}, ValueError, "temperature"),
        ([1], {"temperature": float("nan")}, ValueError, "temperature"),
        ([1], {"temperature": float("inf")}, ValueError, "temperature"),
        ([1], {"temperature": "1"}, TypeError, "temperature"),
        ([1], {"top_k": 0}, ValueError, "top_k"),
        ([1], {"top_k": 6}, ValueError, "top_k"),
        ([1], {"top_k": 2.0}, TypeError, "top_k"),
        ([1], {"top_k": True}, TypeError, "top_k"),
        ([1], {"use_cache": 1}, TypeError, "use_cache"),
        ([1], {"use_cache": "yes"}, TypeError, "use_cache"),
        ([1], {"rng": 1.5}, TypeError, "rng"),
        ([1], {"rng": -1}, ValueError, "rng"),
    ],
)
def test_bad_arguments_raise_before_the_model_runs(prompt, kwargs, error, match) -> None:
    stub = FixedLogits(np.arange(5.0))  # vocab 5, max_len 4
    arguments = {"max_new_tokens": 2, "use_cache": False, **kwargs}
    with pytest.raises(error, match=match):
        generate(stub, prompt, **arguments)
    assert stub.calls == 0
    assert stub.training is True


def test_a_model_without_sizes_is_refused() -> None:
    with pytest.raises(TypeError, match="model.vocab_size"):
        generate(object(), [1], 1)


# --- next_token_distribution ------------------------------------------------------------------


def test_rows_sum_to_one_and_equal_the_softmax_of_logits_over_t() -> None:
    logits = np.random.default_rng(0).standard_normal((3, 4, 7))
    for temperature in (0.3, 1.0, 4.0):
        probs = next_token_distribution(logits, temperature=temperature)
        assert probs.shape == logits.shape
        assert probs.dtype == np.float64
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=SUM_TOL)
        np.testing.assert_allclose(probs, softmax(logits / temperature), rtol=1e-12, atol=0)


def test_temperature_limits() -> None:
    logits = np.array([0.3, 2.0, -1.0, 1.9])
    np.testing.assert_array_equal(next_token_distribution(logits, temperature=0), [0, 1, 0, 0])
    # T -> 0: towards all the mass on the argmax; T -> infinity: towards uniform.
    cold = [next_token_distribution(logits, temperature=t)[1] for t in (1.0, 0.1, 0.01)]
    assert cold[0] < cold[1] < cold[2]
    assert cold[2] > 1 - 1e-4
    np.testing.assert_allclose(
        next_token_distribution(logits, temperature=1e9), 0.25, rtol=0, atol=1e-8
    )


def test_greedy_picks_the_first_of_tied_logits() -> None:
    np.testing.assert_array_equal(
        next_token_distribution([1.0, 3.0, 3.0], temperature=0), [0.0, 1.0, 0.0]
    )


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-30])
def test_tiny_temperatures_give_no_nan_and_no_warning(temperature) -> None:
    logits = np.array([[0.5, 2.0, -1.0, 2.0 - 1e-12], [1e308, -1e308, 0.0, 1e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = next_token_distribution(logits, temperature=temperature)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=SUM_TOL)
    np.testing.assert_array_equal(probs[0], [0.0, 1.0, 0.0, 0.0])  # -1e-12 / T is -inf
    np.testing.assert_array_equal(probs[1], [0.5, 0.0, 0.0, 0.5])


@pytest.mark.parametrize("temperature", [1.0, 1e300])
def test_huge_logits_give_no_nan(temperature) -> None:
    logits = np.array([1e308, -1e308, 1.7e308, -np.finfo(np.float64).max])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = next_token_distribution(logits, temperature=temperature)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=0, atol=SUM_TOL)
    if temperature == 1.0:
        np.testing.assert_array_equal(probs, [0.0, 0.0, 1.0, 0.0])


def test_top_k_keeps_the_k_likeliest_and_renormalises() -> None:
    logits = np.log(np.array([0.1, 0.4, 0.2, 0.3]))
    np.testing.assert_allclose(
        next_token_distribution(logits, top_k=2), [0, 4 / 7, 0, 3 / 7], rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        next_token_distribution(logits, top_k=4), next_token_distribution(logits), rtol=0, atol=0
    )
    batch = np.array([[5.0, 1.0, 3.0], [0.0, 9.0, 8.0]])
    probs = next_token_distribution(batch, top_k=1)
    np.testing.assert_array_equal(probs, [[1, 0, 0], [0, 1, 0]])


def test_top_k_keeps_every_token_tied_with_the_kth() -> None:
    probs = next_token_distribution([1.0, 1.0, 0.0, 1.0], top_k=1)
    np.testing.assert_allclose(probs, [1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-15, atol=0)
    probs = next_token_distribution([3.0, 1.0, 1.0, 0.0], top_k=2)
    assert (probs[:3] > 0).all()
    assert probs[3] == 0


def test_float32_and_integer_logits_give_float64() -> None:
    for logits in (np.array([1.0, 2.0], dtype=np.float32), np.array([1, 2])):
        assert next_token_distribution(logits).dtype == np.float64


@pytest.mark.parametrize(
    ("logits", "kwargs", "error", "match"),
    [
        (np.float64(1.0), {}, ValueError, "logits"),
        (np.zeros((2, 0)), {}, ValueError, "logits"),
        ([1.0, np.nan], {}, ValueError, "logits"),
        ([1.0, np.inf], {}, ValueError, "logits"),
        ([1.0, -np.inf], {}, ValueError, "logits"),
        ([1j, 2.0], {}, TypeError, "logits"),
        ([True, False], {}, TypeError, "logits"),
        ([1.0, 2.0], {"temperature": -1.0}, ValueError, "temperature"),
        ([1.0, 2.0], {"temperature": None}, TypeError, "temperature"),
        ([1.0, 2.0], {"top_k": 3}, ValueError, "top_k"),
        ([1.0, 2.0], {"top_k": 0}, ValueError, "top_k"),
        ([1.0, 2.0], {"top_k": 1.0}, TypeError, "top_k"),
    ],
)
def test_next_token_distribution_refuses_bad_input(logits, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        next_token_distribution(logits, **kwargs)
