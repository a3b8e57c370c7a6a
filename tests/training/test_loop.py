"""The reversal task, the loss, the tiny model and the training loop."""

from __future__ import annotations

import numpy as np
import pytest

from simple_attention import (
    TinyAttentionModel,
    accuracy,
    attention_match,
    reverse_pattern,
    reverse_task,
    sinusoidal_positions,
    softmax_cross_entropy,
    train,
)

# --- the task -------------------------------------------------------------------------------


def test_reverse_task_targets_are_reversed_inputs():
    task = reverse_task(50, 10, length=6, vocab_size=9, rng=0)
    np.testing.assert_array_equal(task.train_targets, task.train_inputs[:, ::-1])
    np.testing.assert_array_equal(task.test_targets, task.test_inputs[:, ::-1])
    assert task.train_inputs.min() >= 0
    assert task.train_inputs.max() < 9


def test_reverse_task_held_out_sequences_are_unseen_and_distinct():
    # 3**4 = 81 sequences: 60 + 21 of them forces the de-duplication to work.
    task = reverse_task(60, 21, length=4, vocab_size=3, rng=1)
    everything = np.concatenate([task.train_inputs, task.test_inputs])
    assert len(np.unique(everything, axis=0)) == 81


def test_reverse_task_is_reproducible():
    a = reverse_task(20, 5, rng=7)
    b = reverse_task(20, 5, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.train_inputs, b.train_inputs)
    np.testing.assert_array_equal(a.test_inputs, b.test_inputs)


def test_reverse_task_refuses_more_sequences_than_exist():
    with pytest.raises(ValueError, match="distinct sequences"):
        reverse_task(10, 0, length=2, vocab_size=3)


class CountingGenerator(np.random.Generator):
    """A generator that counts the calls that draw numbers (the rounds of a sampler)."""

    def __init__(self, seed):
        super().__init__(np.random.PCG64(seed))
        self.n_draws = 0

    def integers(self, *args, **kwargs):
        self.n_draws += 1
        return super().integers(*args, **kwargs)

    def choice(self, *args, **kwargs):
        self.n_draws += 1
        return super().choice(*args, **kwargs)

    def permutation(self, *args, **kwargs):
        self.n_draws += 1
        return super().permutation(*args, **kwargs)


def test_reverse_task_can_ask_for_every_sequence_in_few_draws():
    # Drawing until distinct needs thousands of rounds to find the last unseen sequences.
    generator = CountingGenerator(0)
    task = reverse_task(2**10 - 24, 24, length=10, vocab_size=2, rng=generator)
    everything = np.concatenate([task.train_inputs, task.test_inputs])
    assert len(np.unique(everything, axis=0)) == 2**10
    assert generator.n_draws <= 4
    big = reverse_task(2**16, 0, length=16, vocab_size=2, rng=0)
    assert len(np.unique(big.train_inputs @ 2 ** np.arange(16))) == 2**16  # rows as numbers


def test_reverse_task_asking_for_half_of_all_sequences_needs_few_rounds():
    generator = CountingGenerator(0)
    task = reverse_task(2**15, 0, length=16, vocab_size=2, rng=generator)
    assert len(np.unique(task.train_inputs @ 2 ** np.arange(16))) == 2**15
    assert generator.n_draws <= 64


def draw_until_distinct_reference(n_total, length, vocab_size, rng):
    """The original sampler: the data of every seed must stay what it was."""
    generator = np.random.default_rng(rng)
    sequences = np.empty((0, length), dtype=np.int64)
    while len(sequences) < n_total:
        draw = generator.integers(vocab_size, size=(n_total - len(sequences), length))
        sequences = np.concatenate([sequences, draw])
        _, first = np.unique(sequences, axis=0, return_index=True)
        sequences = sequences[np.sort(first)]
    return sequences


@pytest.mark.parametrize(
    ("n_train", "n_test", "length", "vocab_size"),
    [(10, 2, 3, 4), (100, 20, 5, 7), (30, 10, 4, 3), (2000, 500, 10, 20), (4, 2, 3, 6)],
)
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_reverse_task_gives_the_same_data_for_a_seed_as_before(
    n_train, n_test, length, vocab_size, seed
):
    task = reverse_task(n_train, n_test, length=length, vocab_size=vocab_size, rng=seed)
    np.testing.assert_array_equal(
        np.concatenate([task.train_inputs, task.test_inputs]),
        draw_until_distinct_reference(n_train + n_test, length, vocab_size, seed),
    )


def test_reverse_task_with_astronomically_many_possible_sequences():
    task = reverse_task(3, 1, length=400, vocab_size=10**9, rng=0)
    assert task.train_inputs.shape == (3, 400)
    assert task.train_inputs.max() < 10**9


def test_reverse_task_with_a_single_token():
    task = reverse_task(1, 0, length=5, vocab_size=1, rng=0)
    np.testing.assert_array_equal(task.train_inputs, np.zeros((1, 5), dtype=int))
    with pytest.raises(ValueError, match="distinct sequences"):
        reverse_task(1, 1, length=5, vocab_size=1)


def test_reverse_pattern_is_the_anti_diagonal():
    pattern = reverse_pattern(5)
    for i in range(5):
        assert pattern[i, 4 - i] == 1
    np.testing.assert_array_equal(pattern.sum(axis=1), np.ones(5))


# --- loss and positions ---------------------------------------------------------------------


def test_cross_entropy_of_uniform_logits_is_log_vocab():
    loss, _ = softmax_cross_entropy(np.zeros((3, 7)), [0, 3, 6])
    assert loss == pytest.approx(np.log(7), rel=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    loss, grad = softmax_cross_entropy(np.array([[1e30, 0.0, -1e30]]), [1])
    assert loss == pytest.approx(1e30)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0]])


def test_cross_entropy_gradient_rows_sum_to_zero(rng):
    _, grad = softmax_cross_entropy(rng.standard_normal((4, 5, 6)), rng.integers(6, size=(4, 5)))
    np.testing.assert_allclose(grad.sum(axis=-1), 0.0, atol=1e-15)


def test_cross_entropy_fully_masked_is_zero_not_nan():
    loss, grad = softmax_cross_entropy(np.ones((2, 3)), [0, 1], mask=[False, False])
    assert loss == 0.0
    assert (grad == 0).all()


def test_cross_entropy_ignores_targets_of_masked_positions():
    loss, _ = softmax_cross_entropy(np.zeros((2, 3)), [0, -1], mask=[True, False])
    assert loss == pytest.approx(np.log(3))


def test_cross_entropy_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match="shape"):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(TypeError, match="integer"):
        softmax_cross_entropy(np.zeros((2, 3)), [0.0, 1.0])
    with pytest.raises(TypeError, match="boolean"):
        softmax_cross_entropy(np.zeros((2, 3)), [0, 1], mask=[1, 0])
    with pytest.raises(ValueError, match="logits"):
        softmax_cross_entropy(np.array([[np.nan, 0.0]]), [0])


def test_cross_entropy_keeps_float32():
    _, grad = softmax_cross_entropy(np.zeros((2, 3), dtype=np.float32), [0, 1])
    assert grad.dtype == np.float32


def test_sinusoidal_positions_are_distinct_and_bounded():
    table = sinusoidal_positions(50, 8)
    assert table.shape == (50, 8)
    assert np.abs(table).max() <= 1
    distances = np.linalg.norm(table[:, None] - table[None], axis=-1)
    assert (distances[~np.eye(50, dtype=bool)] > 1e-3).all()


def test_sinusoidal_positions_odd_dim():
    table = sinusoidal_positions(3, 5)
    np.testing.assert_allclose(table[:, 4], np.sin(np.arange(3) * 10000.0 ** (-4 / 5)))


# --- model and training ---------------------------------------------------------------------


def test_model_is_deterministic_for_a_seed():
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(
        TinyAttentionModel(5, 3, 4, rng=3)(ids), TinyAttentionModel(5, 3, 4, rng=3)(ids)
    )


def test_model_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before its backward pass"):
        TinyAttentionModel(5, 3, 4, rng=0).backward(np.ones((1, 3, 5)))


def test_model_rejects_too_long_sequences():
    with pytest.raises(ValueError, match="max_len=3"):
        TinyAttentionModel(5, 3, 4, rng=0)(np.zeros((1, 4), dtype=int))


@pytest.fixture(scope="module")
def short_run():
    """A small budget: a few dozen updates, far from converged."""
    task = reverse_task(400, 100, length=6, vocab_size=8, rng=0)
    model = TinyAttentionModel(8, 6, 16, rng=1)
    model(task.test_inputs)
    before = attention_match(model.weights, task.ideal_weights)
    history = train(
        model, task.train_inputs, task.train_targets, steps=40, rng=2, snapshot_steps=[0, 40]
    )
    return task, model, history, before


def test_training_lowers_the_loss(short_run):
    _, _, history, _ = short_run
    assert np.mean(history.losses[-5:]) < 0.7 * np.mean(history.losses[:5])


def test_training_moves_attention_toward_the_known_pattern(short_run):
    task, model, history, before = short_run
    model(task.test_inputs)
    after = attention_match(model.weights, task.ideal_weights)
    assert before < 0.3  # about 1/6 at random initialisation
    assert after > before + 0.2
    first, last = (attention_match(s, task.ideal_weights) for s in history.snapshots)
    assert first == pytest.approx(before, abs=0.05)
    assert last > first + 0.2


def test_training_is_deterministic_for_a_given_rng():
    task = reverse_task(100, 10, length=4, vocab_size=5, rng=0)
    runs = []
    for _ in range(2):
        model = TinyAttentionModel(5, 4, 8, rng=1)
        history = train(model, task.train_inputs, task.train_targets, steps=5, rng=2)
        runs.append((history.losses, model.attention.W_query.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_train_records_snapshots_at_the_requested_steps():
    task = reverse_task(100, 10, length=4, vocab_size=5, rng=0)
    model = TinyAttentionModel(5, 4, 8, rng=1)
    history = train(
        model, task.train_inputs, task.train_targets, steps=6, rng=2, snapshot_steps=[0, 3, 6, 99]
    )
    assert history.snapshot_steps == [0, 3, 6]
    for snapshot in history.snapshots:
        assert snapshot.shape == (4, 4)
        np.testing.assert_allclose(snapshot.sum(axis=-1), 1.0)


def test_train_rejects_mismatched_data():
    model = TinyAttentionModel(5, 4, 8, rng=1)
    with pytest.raises(ValueError, match="same shape"):
        train(model, np.zeros((3, 4), dtype=int), np.zeros((3, 3), dtype=int))


def test_accuracy_of_a_perfect_and_a_useless_model():
    model = TinyAttentionModel(4, 3, 8, rng=0)
    ids = np.array([[0, 1, 2], [3, 2, 1]])
    predicted = model(ids).argmax(axis=-1)
    assert accuracy(model, ids, predicted) == 1.0
    assert accuracy(model, ids, (predicted + 1) % 4) == 0.0


def test_attention_match_bounds_and_shape_check():
    ideal = reverse_pattern(3)
    assert attention_match(np.stack([ideal, ideal]), ideal) == 1.0
    assert attention_match(np.eye(3)[[0, 0, 0]], ideal) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="ideal pattern"):
        attention_match(np.eye(4), ideal)


# --- checking the arguments of train, accuracy and attention_match --------------------------


def params_of(model):
    return {name: param.copy() for name, param in model.params.items()}


def assert_params_equal(model, before):
    for name, param in model.params.items():
        np.testing.assert_array_equal(param, before[name], err_msg=name)


@pytest.fixture
def small_task():
    return reverse_task(20, 4, length=4, vocab_size=5, rng=0)


def test_train_rejects_zero_sequences():
    model = TinyAttentionModel(5, 4, 8, rng=1)
    empty = np.zeros((0, 4), dtype=int)
    with pytest.raises(ValueError, match="inputs must hold at least one sequence"):
        train(model, empty, empty, steps=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"lr": True}, TypeError, "lr"),
        ({"steps": 0}, ValueError, "steps"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"snapshot_steps": 5}, TypeError, "snapshot_steps must be an iterable"),
        ({"snapshot_steps": [0, -1]}, ValueError, "snapshot_steps"),
        ({"snapshot_steps": [True]}, TypeError, "snapshot_steps"),
        ({"probe": np.full((2, 4), 7)}, ValueError, r"probe must lie in \[0, 5\)"),
        ({"probe": np.zeros((2, 5), dtype=int)}, ValueError, "probe has sequences of 5"),
        ({"probe": np.zeros((2, 4))}, TypeError, "probe must be integer"),
        ({"rng": "seed"}, TypeError, "rng"),
    ],
)
def test_train_checks_its_arguments_before_touching_the_model(small_task, kwargs, error, match):
    model = TinyAttentionModel(5, 4, 8, rng=1)
    before = params_of(model)
    arguments = {"steps": 3, "snapshot_steps": [0, 3]} | kwargs
    with pytest.raises(error, match=match):
        train(model, small_task.train_inputs, small_task.train_targets, **arguments)
    assert_params_equal(model, before)
    assert model.weights is None  # not even called


@pytest.mark.parametrize(
    ("inputs", "targets", "error", "match"),
    [
        (np.zeros((3, 4)), np.zeros((3, 4), dtype=int), TypeError, "inputs must be integer"),
        (np.zeros((3, 4), dtype=int), np.zeros((3, 4)), TypeError, "targets must be integer"),
        (np.zeros((3, 4), dtype=int), np.full((3, 4), 5), ValueError, "targets must lie in"),
        (np.zeros((3, 5), dtype=int), np.zeros((3, 5), dtype=int), ValueError, "max_len=4"),
        (np.zeros((3, 0), dtype=int), np.zeros((3, 0), dtype=int), ValueError, "inputs must"),
        (np.zeros(4, dtype=int), np.zeros(4, dtype=int), ValueError, "inputs must hold"),
    ],
)
def test_train_rejects_bad_data(inputs, targets, error, match):
    model = TinyAttentionModel(5, 4, 8, rng=1)
    with pytest.raises(error, match=match):
        train(model, inputs, targets, steps=2)


def test_train_checks_every_sequence_before_the_first_step(small_task):
    # The bad id sits in one sequence of many: batches might reach it only after some steps.
    inputs = small_task.train_inputs.copy()
    inputs[-1, 0] = 5
    model = TinyAttentionModel(5, 4, 8, rng=1)
    before = params_of(model)
    with pytest.raises(ValueError, match=r"inputs must lie in \[0, 5\)"):
        train(model, inputs, small_task.train_targets, steps=50, batch_size=2, rng=0)
    assert_params_equal(model, before)


def test_train_rejects_what_lacks_the_model_interface(small_task):
    with pytest.raises(TypeError, match="model must have the Model interface"):
        train(object(), small_task.train_inputs, small_task.train_targets, steps=1)


class BagOfTokens:
    """A model that is not a Layer: logits = (mean of the token vectors) @ W, at every position."""

    def __init__(self, vocab_size: int, dim: int, rng: int) -> None:
        generator = np.random.default_rng(rng)
        self.params = {
            "E": generator.standard_normal((vocab_size, dim)),
            "W": generator.standard_normal((dim, vocab_size)),
        }
        self.grads: dict[str, np.ndarray] = {}

    def __call__(self, ids):
        self._ids = np.asarray(ids)
        self._mean = self.params["E"][self._ids].mean(axis=-2, keepdims=True)
        return np.broadcast_to(
            self._mean @ self.params["W"], (*self._ids.shape, len(self.params["W"].T))
        )

    def backward(self, grad_out):
        g = np.asarray(grad_out).sum(axis=-2, keepdims=True)  # (B, 1, V)
        self.grads["W"] = (np.swapaxes(self._mean, -1, -2) @ g).sum(axis=0)
        grad_mean = g @ self.params["W"].T / self._ids.shape[-1]  # (B, 1, dim)
        grad_E = np.zeros_like(self.params["E"])
        np.add.at(
            grad_E, self._ids, np.broadcast_to(grad_mean, (*self._ids.shape, grad_mean.shape[-1]))
        )
        self.grads["E"] = grad_E


def test_train_and_accuracy_work_for_any_model_with_the_interface_and_sgd(small_task):
    from simple_attention import SGD

    model = BagOfTokens(vocab_size=5, dim=4, rng=0)
    optimizer = SGD(model.params, lr=0.05)
    history = train(
        model,
        small_task.train_inputs,
        small_task.train_targets,
        optimizer=optimizer,
        steps=40,
        batch_size=16,
        rng=0,
    )
    assert len(history.losses) == 40
    assert np.mean(history.losses[-5:]) < np.mean(history.losses[:5])
    assert history.snapshots == []  # the model publishes no attention weights
    assert 0.0 <= accuracy(model, small_task.test_inputs, small_task.test_targets) <= 1.0


def test_train_with_sgd_matches_sgd_steps_by_hand(small_task):
    from simple_attention import SGD

    a = TinyAttentionModel(5, 4, 8, rng=1)
    b = TinyAttentionModel(5, 4, 8, rng=1)
    train(
        a,
        small_task.train_inputs,
        small_task.train_targets,
        optimizer=SGD(a.params, lr=0.1),
        steps=3,
        batch_size=4,
        rng=7,
    )
    generator = np.random.default_rng(7)
    optimizer = SGD(b.params, lr=0.1)
    for _ in range(3):
        batch = generator.integers(len(small_task.train_inputs), size=4)
        _, grad = softmax_cross_entropy(
            b(small_task.train_inputs[batch]), small_task.train_targets[batch]
        )
        b.backward(grad)
        optimizer.step(b.grads)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)


def test_train_refuses_an_optimizer_of_other_parameters(small_task):
    from simple_attention import SGD

    model = TinyAttentionModel(5, 4, 8, rng=1)
    other = TinyAttentionModel(5, 4, 8, rng=1)
    with pytest.raises(ValueError, match="optimizer must be built on model.params"):
        train(
            model,
            small_task.train_inputs,
            small_task.train_targets,
            optimizer=SGD(other.params, lr=0.1),
            steps=1,
        )
    with pytest.raises(TypeError, match="optimizer must be an SGD or Adam"):
        train(model, small_task.train_inputs, small_task.train_targets, optimizer="sgd", steps=1)


def test_train_restores_the_parameters_when_a_step_fails(small_task, monkeypatch):
    import simple_attention.training.loop as training

    calls = []

    def failing_loss(logits, targets):
        calls.append(None)
        if len(calls) == 3:
            raise FloatingPointError("the loss diverged")
        return softmax_cross_entropy(logits, targets)

    monkeypatch.setattr(training, "softmax_cross_entropy", failing_loss)
    model = TinyAttentionModel(5, 4, 8, rng=1)
    before = params_of(model)
    with pytest.raises(FloatingPointError, match="diverged"):
        train(model, small_task.train_inputs, small_task.train_targets, steps=5, rng=0)
    assert len(calls) == 3  # two updates happened, and were undone
    assert_params_equal(model, before)


def test_train_restores_the_parameters_when_training_diverges(small_task):
    model = TinyAttentionModel(5, 4, 8, rng=1)
    before = params_of(model)
    # Steps of about 1e300: the next forward pass overflows.
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises((FloatingPointError, ValueError)),
    ):
        train(model, small_task.train_inputs, small_task.train_targets, steps=5, lr=1e300, rng=0)
    assert_params_equal(model, before)


@pytest.mark.parametrize(
    "targets", [np.array([0, 1, 2]), np.zeros((2, 1), dtype=int), 0, np.zeros((1, 3), dtype=int)]
)
def test_accuracy_rejects_targets_of_another_shape_than_inputs(targets):
    model = TinyAttentionModel(4, 3, 8, rng=0)
    ids = np.array([[0, 1, 2], [3, 2, 1]])
    with pytest.raises(ValueError, match="targets must have the shape of inputs"):
        accuracy(model, ids, targets)
    assert model.weights is None  # checked before the model runs


def test_accuracy_rejects_bad_ids():
    model = TinyAttentionModel(4, 3, 8, rng=0)
    ids = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 4\)"):
        accuracy(model, ids, np.array([[0, 1, 4]]))
    with pytest.raises(TypeError, match="targets must be integer"):
        accuracy(model, ids, ids.astype(float))
    with pytest.raises(TypeError, match="model must have the Model interface"):
        accuracy(None, ids, ids)


def test_accuracy_and_attention_match_refuse_empty_data():
    model = TinyAttentionModel(4, 3, 8, rng=0)
    empty = np.zeros((0, 3), dtype=int)
    with pytest.raises(ValueError, match="inputs holds no sequence"):
        accuracy(model, empty, empty)
    with pytest.raises(ValueError, match="weights of shape .* hold no query"):
        attention_match(np.zeros((0, 3, 3)), reverse_pattern(3))
    with pytest.raises(ValueError, match="hold no query"):
        attention_match(np.zeros((0, 3)), np.zeros((0, 3)))


def test_attention_match_refuses_values_that_are_not_probabilities():
    ideal = reverse_pattern(3)
    with pytest.raises(ValueError, match=r"weights must be probabilities in \[0, 1\]"):
        attention_match(2 * ideal, ideal)
    with pytest.raises(ValueError, match=r"ideal must be probabilities in \[0, 1\]"):
        attention_match(ideal, -ideal)
    with pytest.raises(ValueError, match="weights contains NaN"):
        attention_match(np.full((3, 3), np.nan), ideal)
