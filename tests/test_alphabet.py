"""The A-Z letter data sets drawn with matplotlib's bundled fonts: the clean memorisation set, the augmented
set with held-out fonts, the renderer's determinism, its errors and the read-only cache."""
from __future__ import annotations

import numpy as np
import pytest

from lab.data import DATASET_NAMES, DataError, alphabet, load_dataset
from lab.data.alphabet import (LETTER_CLASSES, bundled_fonts, font_family, fonts_folder, letters_fonts,
                               load_letters_augmented, load_letters_clean, render_letter, split_fonts)

SMALL = dict(per_letter=4, test_per_letter=2)  # 156 images: enough to see every random choice, fast


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


# ---- the clean set ------------------------------------------------------------------------------
def test_clean_set_is_26_distinct_centred_letters_with_train_equal_test():
    ds = load_letters_clean()
    assert ds.name == "letters" and ds.classes == tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") and ds.pixel_max == 1.0
    assert ds.x_train.shape == (26, 100, 100) and ds.x_train.dtype == np.float32 and ds.n_features == 10_000
    np.testing.assert_array_equal(ds.y_train, np.arange(26))
    np.testing.assert_array_equal(ds.x_test, ds.x_train)
    np.testing.assert_array_equal(ds.y_test, ds.y_train)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert "memorisation" in ds.note and "DejaVu Sans" in ds.note
    ink = ds.flat_train().sum(axis=1)
    assert ink.min() > 300, "every letter has ink (I, the thinnest, still covers hundreds of pixels)"
    assert ink.max() < 5000, "ink on a dark background, not the other way round"
    flat = ds.flat_train()
    distances = np.abs(flat[:, None, :] - flat[None, :, :]).sum(axis=2)
    assert distances[~np.eye(26, dtype=bool)].min() > 50, "all 26 letters differ pairwise"
    for image in ds.x_train:
        row, col = centre_of_mass(image)
        assert abs(row - 49.5) < 15 and abs(col - 49.5) < 15
        assert image[0].max() == 0 and image[-1].max() == 0 and image[:, 0].max() == 0 and image[:, -1].max() == 0


def test_rendering_is_deterministic_bit_for_bit():
    first = render_letter("Q", font="STIXGeneralItalic", size=50, angle=17.3, dx=3.5, dy=-2.25)
    again = render_letter("Q", font="STIXGeneralItalic", size=50, angle=17.3, dx=3.5, dy=-2.25)
    assert first.tobytes() == again.tobytes()
    assert load_letters_clean().x_train[6].tobytes() == render_letter("G").tobytes()


def test_render_letter_options_move_turn_scale_and_invert():
    base = render_letter("L")
    assert base.shape == (100, 100) and base.dtype == np.float32
    np.testing.assert_array_equal(render_letter("L", invert=True), np.float32(1) - base)
    assert not np.array_equal(render_letter("L", angle=20), base)
    assert render_letter("L", size=35).sum() < base.sum() / 2
    row, col = centre_of_mass(render_letter("O", dx=10, dy=5))
    row0, col0 = centre_of_mass(render_letter("O"))
    assert col - col0 == pytest.approx(10, abs=0.5) and row - row0 == pytest.approx(5, abs=0.5), "dx right, dy down"
    assert render_letter("T", shape=28).shape == (28, 28)
    top, bottom = base[:50].sum(), base[50:].sum()
    assert bottom > top, "an L is drawn upright: its foot is in the lower half"
    by_path = render_letter("A", font=fonts_folder() / "DejaVuSerif-Bold.ttf")
    np.testing.assert_array_equal(by_path, render_letter("A", font="DejaVuSerif-Bold.ttf"))
    assert not np.array_equal(by_path, render_letter("A"))


# ---- fonts --------------------------------------------------------------------------------------
def test_bundled_fonts_are_matplotlibs_letter_fonts_and_split_by_family():
    fonts = bundled_fonts()
    assert all(p.parent == fonts_folder() for p in fonts)
    stems = {p.stem for p in fonts}
    assert {"DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "STIXGeneral"} <= stems
    assert not stems & {"DejaVuSansDisplay", "LastResortHE-Regular", "STIXSizOneSymReg", "cmex10"}, \
        "fonts without real capital letters are left out"
    fonts.clear()
    assert bundled_fonts(), "callers get a copy of the cached list"
    train, test = split_fonts()
    assert set(train).isdisjoint(test) and set(train) | set(test) == stems
    families = {s: font_family(fonts_folder() / f"{s}.ttf") for s in stems}
    assert all(("Serif" in families[s] or "Mono" in families[s]) == (s in test) for s in stems)
    assert "DejaVuSans" in train and "DejaVuSerif" in test and "DejaVuSansMono-Bold" in test
    held = split_fonts(("cmr10", "STIXGeneral"))[1]  # a stem takes one font, a family name all its styles
    assert held == ("STIXGeneral", "STIXGeneralBol", "STIXGeneralBolIta", "STIXGeneralItalic", "cmr10")
    with pytest.raises(ValueError, match="'Comic Sans' is not a bundled letter font"):
        split_fonts(("Comic Sans",))
    with pytest.raises(ValueError, match="no train fonts"):
        split_fonts(tuple(stems))


# ---- the augmented set --------------------------------------------------------------------------
def test_augmented_set_has_the_right_counts_polarities_and_held_out_fonts():
    ds = load_letters_augmented(**SMALL)
    assert ds.name == "letters-augmented" and ds.classes == LETTER_CLASSES and ds.pixel_max == 1.0
    assert ds.x_train.shape == (104, 100, 100) and ds.x_test.shape == (52, 100, 100)
    assert np.bincount(ds.y_train, minlength=26).tolist() == [4] * 26
    assert np.bincount(ds.y_test, minlength=26).tolist() == [2] * 26
    assert ds.y_train[:26].tolist() == list(range(26)), "labels cycle A..Z, so every prefix is balanced"
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    means = ds.flat_train().mean(axis=1)
    assert (means > 0.5).any() and (means < 0.5).any(), "both white-on-black and black-on-white"
    fonts_train, fonts_test = letters_fonts(**SMALL)
    assert len(fonts_train) == 104 and len(fonts_test) == 52
    train, test = split_fonts()
    assert set(fonts_train) <= set(train) and set(fonts_test) <= set(test)
    assert set(fonts_train).isdisjoint(fonts_test) and len(set(fonts_train)) > 3
    assert "held-out test fonts: " + ", ".join(test) in ds.note and "train fonts: " + ", ".join(train) in ds.note
    assert fonts_test.flags.writeable is False


def test_augmented_images_vary_and_follow_the_seed():
    ds = load_letters_augmented(**SMALL)
    same_letter = ds.x_train[ds.y_train == 0]
    assert len({image.tobytes() for image in same_letter}) == len(same_letter)
    again = load_letters_augmented(**SMALL, seed=0)
    assert again.x_train is ds.x_train, "cached per argument set"
    alphabet._augmented_arrays.cache_clear()  # rebuild from scratch, not from the cache
    rebuilt = load_letters_augmented(**SMALL, seed=0)
    assert rebuilt.x_train is not ds.x_train
    assert rebuilt.x_train.tobytes() == ds.x_train.tobytes() and rebuilt.x_test.tobytes() == ds.x_test.tobytes()
    other = load_letters_augmented(**SMALL, seed=1)
    assert not np.array_equal(other.x_train, ds.x_train) and not np.array_equal(other.x_test, ds.x_test)


def test_explicit_test_fonts_are_held_out():
    ds = load_letters_augmented(per_letter=2, test_per_letter=1, test_fonts=("DejaVu Sans",))
    fonts_train, fonts_test = letters_fonts(per_letter=2, test_per_letter=1, test_fonts=("DejaVu Sans",))
    assert set(fonts_test) <= {"DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"}
    assert not any(f.startswith("DejaVuSans") and "Mono" not in f for f in fonts_train)
    assert "held-out test fonts: DejaVuSans-Bold" in ds.note


# ---- errors and the cache -----------------------------------------------------------------------
def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown letter 'a'"):
        render_letter("a")
    with pytest.raises(ValueError, match="unknown letter 'AB'"):
        render_letter("AB")
    with pytest.raises(DataError, match="nope.ttf does not exist"):
        render_letter("A", font=tmp_path / "nope.ttf")
    with pytest.raises(DataError, match="font file NoSuchFont does not exist"):
        render_letter("A", font="NoSuchFont")
    (tmp_path / "fake.ttf").write_bytes(b"not a font")
    with pytest.raises(DataError, match="fake.ttf is not a font file"):
        render_letter("A", font=tmp_path / "fake.ttf")
    with pytest.raises(DataError, match="has no glyph for 'A'"):
        render_letter("A", font="DejaVuSansDisplay")
    with pytest.raises(ValueError, match="shape must be .* at least 8, not 4"):
        render_letter("A", shape=4)
    with pytest.raises(ValueError, match="size must be a positive"):
        render_letter("A", size=0)
    with pytest.raises(ValueError, match="per_letter must be .* at least 1, not 0"):
        load_letters_augmented(per_letter=0)
    with pytest.raises(ValueError, match="test_per_letter must be .* not 2.5"):
        load_letters_augmented(test_per_letter=2.5)


def test_cached_arrays_cannot_be_corrupted_by_a_caller():
    for ds in (load_letters_clean(), load_letters_augmented(**SMALL)):
        for array in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
            with pytest.raises(ValueError):
                array.flat[0] = 0.5
            with pytest.raises(ValueError):
                array.flags.writeable = True
        with pytest.raises(ValueError):
            ds.flat_train()[0, 0] = 0.5
    assert load_letters_clean().x_train[0, 50, 50] == render_letter("A")[50, 50]


def test_load_dataset_dispatches_to_the_letters(tmp_path):
    assert {"letters", "letters-augmented"} <= set(DATASET_NAMES)
    clean = load_dataset("letters", tmp_path / "ignored")
    assert clean.name == "letters" and len(clean.x_train) == 26
    augmented = load_dataset("letters-augmented", **SMALL, seed=3)
    assert augmented.name == "letters-augmented" and len(augmented.x_test) == 52
    assert augmented.x_train.tobytes() == load_letters_augmented(**SMALL, seed=3).x_train.tobytes()
