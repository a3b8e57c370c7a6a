"""save_weights and load_weights: round trips, refused files, nothing changed, no pickle."""

from __future__ import annotations

import io
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from simple_attention import Linear, TinyGPT, load_weights, save_weights

IDS = np.array([[1, 2, 3, 4], [4, 0, 2, 2]])


def gpt(seed: int, **kwargs: object) -> TinyGPT:
    options = {"vocab_size": 6, "max_len": 5, "d_model": 4, "n_heads": 2, "n_layers": 2}
    return TinyGPT(**{**options, **kwargs}, rng=seed)  # type: ignore[arg-type]


def saved(model: object, **extra: np.ndarray) -> io.BytesIO:
    """The model's weights in a buffer, optionally with arrays added or replaced."""
    buffer = io.BytesIO()
    if extra:
        arrays = {name: p for name, p in model.params.items()}  # type: ignore[attr-defined]
        arrays.update(extra)
        np.savez(buffer, **arrays)
    else:
        save_weights(model, buffer)
    buffer.seek(0)
    return buffer


def snapshot(model: TinyGPT) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each parameter array itself and a copy of its values."""
    return {name: (p, p.copy()) for name, p in model.params.items()}


def assert_untouched(model: TinyGPT, before: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    assert list(model.params) == list(before)
    for name, param in model.params.items():
        array, values = before[name]
        assert param is array, name
        np.testing.assert_array_equal(param, values, err_msg=name)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_round_trip_through_a_file(tmp_path: Path, tie_weights) -> None:
    model = gpt(0, tie_weights=tie_weights)
    path = tmp_path / "weights.npz"
    save_weights(model, path)
    copy = gpt(1, tie_weights=tie_weights)
    assert not np.array_equal(copy(IDS), model(IDS))
    arrays = snapshot(copy)
    load_weights(copy, path)
    np.testing.assert_array_equal(copy(IDS), model(IDS))
    for name, param in copy.params.items():
        assert param is arrays[name][0]  # copied in place: an optimizer's arrays stay valid
        np.testing.assert_array_equal(param, model.params[name])


def test_round_trip_through_a_string_path_and_a_buffer(tmp_path: Path) -> None:
    model = gpt(0)
    save_weights(model, str(tmp_path / "w.npz"))
    copy = gpt(2)
    load_weights(copy, str(tmp_path / "w.npz"))
    np.testing.assert_array_equal(copy(IDS), model(IDS))
    other = gpt(3)
    load_weights(other, saved(model))
    np.testing.assert_array_equal(other(IDS), model(IDS))


def test_the_file_holds_every_parameter_and_what_it_was_saved_from() -> None:
    model = gpt(0)
    with np.load(saved(model), allow_pickle=False) as archive:
        assert set(archive.files) == {*model.params, "__model__"}
        assert str(archive["__model__"]) == repr(model)
        np.testing.assert_array_equal(archive["block1.ffn.up.W"], model.block1.ffn.up.W)


def test_weights_are_cast_to_the_dtype_of_the_model() -> None:
    model = gpt(0)
    small = gpt(1).astype(np.float32)
    load_weights(small, saved(model))
    assert all(p.dtype == np.float32 for p in small.params.values())
    np.testing.assert_allclose(small(IDS), model(IDS), rtol=0, atol=1e-4)


def test_any_layer_with_params_round_trips() -> None:
    layer = Linear(3, 2, rng=0)
    copy = Linear(3, 2, rng=1)
    load_weights(copy, saved(layer))
    np.testing.assert_array_equal(copy.W, layer.W)


# --- refused files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (gpt(0, n_layers=3), r"the file holds block2\.ln1\.gamma, which the model has no"),
        (gpt(0, n_layers=1), r"no array for the model's parameter block1\.ln1\.gamma"),
        (gpt(0, d_model=6), r"embedding\.weight has shape \(6, 6\) in the file but \(6, 4\)"),
        (gpt(0, vocab_size=7), r"embedding\.weight has shape \(7, 4\)"),
        (gpt(0, tie_weights=False), r"head\.W"),
    ],
    ids=["more-layers", "fewer-layers", "other-d_model", "other-vocab", "untied"],
)
def test_a_file_of_another_model_is_refused_and_changes_nothing(source, match) -> None:
    model = gpt(5)
    before = snapshot(model)
    with pytest.raises(ValueError, match=match) as error:
        load_weights(model, saved(source))
    assert repr(source) in str(error.value)
    assert repr(model) in str(error.value)
    assert_untouched(model, before)


def test_a_missing_array_is_named() -> None:
    model = gpt(5)
    buffer = io.BytesIO()
    arrays = {name: p for name, p in gpt(0).params.items() if name != "ln_f.beta"}
    np.savez(buffer, **arrays)
    buffer.seek(0)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"no array for the model's parameter ln_f\.beta"):
        load_weights(model, buffer)
    assert_untouched(model, before)


def test_an_extra_array_is_named() -> None:
    model = gpt(5)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"the file holds extra\.W, which the model has no"):
        load_weights(model, saved(gpt(0), **{"extra.W": np.ones(3)}))
    assert_untouched(model, before)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (np.nan, ValueError, "ln_f.gamma contains NaN"),
        (np.inf, ValueError, "ln_f.gamma contains NaN or inf"),
    ],
)
def test_a_non_finite_array_is_named_and_changes_nothing(value, error, match) -> None:
    source = gpt(0)
    bad = source.ln_f.gamma.copy()
    bad[1] = value
    model = gpt(5)
    before = snapshot(model)
    with pytest.raises(error, match=match):
        load_weights(model, saved(source, **{"ln_f.gamma": bad}))
    assert_untouched(model, before)


def test_a_value_beyond_the_models_dtype_is_refused_not_loaded_as_inf() -> None:
    source = gpt(0)
    big = source.embedding.weight.copy()
    big[0, 0] = 1e6  # float16 stops at 65504
    model = gpt(5).astype(np.float16)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"embedding\.weight in the model's dtype float16"):
        load_weights(model, saved(source, **{"embedding.weight": big}))
    assert_untouched(model, before)


def test_a_file_that_is_not_an_npz_archive_is_refused(tmp_path: Path) -> None:
    model = gpt(5)
    before = snapshot(model)
    text = tmp_path / "notes.npz"
    text.write_text("these are not weights\n" * 10)
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_weights(model, text)
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_weights(model, io.BytesIO(b""))
    single = io.BytesIO()
    np.save(single, np.ones(3))
    single.seek(0)
    with pytest.raises(ValueError, match="single array"):
        load_weights(model, single)
    with pytest.raises(FileNotFoundError):
        load_weights(model, tmp_path / "missing.npz")
    assert_untouched(model, before)


def trip(note: str) -> None:
    Tripwire.tripped.append(note)


class Tripwire:
    """Unpickling this object calls :func:`trip`: code run by merely loading a file."""

    tripped: ClassVar[list[str]] = []

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (trip, ("unpickled",))


def test_an_object_array_is_named_and_never_unpickled() -> None:
    # An entry that needs pickle could run code when loaded: allow_pickle=False refuses it.
    Tripwire.tripped.clear()
    model = gpt(5)
    before = snapshot(model)
    payload = np.array([Tripwire()], dtype=object)
    with pytest.raises(ValueError, match=r"file holds block0\.ln1\.beta, which is not a plain"):
        load_weights(model, saved(gpt(0), **{"block0.ln1.beta": payload}))
    assert Tripwire.tripped == []
    assert_untouched(model, before)
    # The same file read with pickle allowed does run the payload: the test has teeth.
    with np.load(saved(gpt(0), **{"block0.ln1.beta": payload}), allow_pickle=True) as archive:
        archive["block0.ln1.beta"]
    assert Tripwire.tripped == ["unpickled"]


def test_a_pickled_single_array_is_refused_without_unpickling() -> None:
    Tripwire.tripped.clear()
    buffer = io.BytesIO()
    np.save(buffer, np.array([Tripwire()], dtype=object), allow_pickle=True)
    buffer.seek(0)
    with pytest.raises(ValueError, match="not an .npz archive"):
        load_weights(gpt(5), buffer)
    assert Tripwire.tripped == []


# --- saving -----------------------------------------------------------------------------------


def test_a_diverged_model_is_not_saved(tmp_path: Path) -> None:
    model = gpt(0)
    model.block0.attention.W_key[0, 0] = np.nan
    path = tmp_path / "diverged.npz"
    with pytest.raises(ValueError, match=r"block0\.attention\.W_key"):
        save_weights(model, path)
    assert not path.exists()


def test_something_without_params_is_refused() -> None:
    with pytest.raises(TypeError, match="params"):
        save_weights(object(), io.BytesIO())
    with pytest.raises(TypeError, match="params"):
        load_weights(object(), saved(gpt(0)))
