"""The 26 capital letters A-Z drawn with the fonts matplotlib ships, for GENREG's letter arenas (nothing downloaded).

``letters`` is the 10,000-128-26 memorisation task: one centred DejaVu Sans rendering per letter, train = test.
``letters-augmented`` draws random font, size, rotation, position and polarity, and holds whole fonts out for testing.
Glyph outlines come from :class:`matplotlib.textpath.TextPath` and are filled by matplotlib's Agg rasteriser
(no figure, no pyplot), so the pixels are identical run to run on a machine with the same matplotlib.
"""
from __future__ import annotations

import functools
import os
import string
from pathlib import Path

import numpy as np
from matplotlib import font_manager, get_data_path
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from lab.data import Dataset, DataError

LETTER_CLASSES: tuple[str, ...] = tuple(string.ascii_uppercase)
DEFAULT_FONT = "DejaVuSans"      # matplotlib's default font; the clean set uses it alone
CLEAN_SIZE = 70.0                # cap height in pixels: DejaVu Sans W and J then span ~89 of 100 pixels
SHAPE = 100                      # 100 x 100 = the 10,000 inputs of the GENREG letter task
# augmentation ranges: the brief's +-25 degrees; the size and jitter ranges keep letters legible and in frame
SIZE_RANGE = (36.0, 64.0)        # cap height in pixels, drawn uniformly
MAX_ANGLE = 25.0                 # degrees, drawn uniformly in [-MAX_ANGLE, MAX_ANGLE]
MAX_SHIFT = 14.0                 # pixels, drawn uniformly per axis, then cut so the glyph stays inside the frame
FRAME_MARGIN = 2.0               # pixels kept clear around an augmented glyph
HELD_OUT_MARKERS = ("Serif", "Mono")  # default test fonts: every family whose name holds one of these


def fonts_folder() -> Path:
    """The folder of TrueType fonts bundled with matplotlib (the only fonts the data sets use)."""
    return Path(get_data_path()) / "fonts" / "ttf"


def bundled_fonts() -> list[Path]:
    """The bundled fonts that draw all 26 capitals as letters, sorted by file name.

    Listed with ``font_manager`` over :func:`fonts_folder` only, never system fonts. Fonts whose glyph for
    "A".."Z" is missing or is not named after the letter (the STIX size/non-unicode symbol sets, cmex10's
    delimiters, the Display and LastResort fonts) are left out.
    """
    return list(_bundled_fonts())


@functools.lru_cache(maxsize=1)
def _bundled_fonts() -> tuple[Path, ...]:
    found = font_manager.findSystemFonts(fontpaths=[str(fonts_folder())], fontext="ttf")
    return tuple(path for path in sorted(map(Path, found), key=lambda p: p.name) if _draws_capitals(path))


def _draws_capitals(path: Path) -> bool:
    font = font_manager.get_font(str(path))
    indices = [font.get_char_index(ord(c)) for c in LETTER_CLASSES]
    return all(indices) and all(font.get_glyph_name(i) == c for i, c in zip(indices, LETTER_CLASSES))


def font_family(path: str | os.PathLike[str]) -> str:
    """The family name a font file declares, e.g. "DejaVu Serif" for DejaVuSerif-Bold.ttf."""
    return font_manager.get_font(str(path)).family_name


def resolve_font(font: str | os.PathLike[str] | None) -> Path:
    """The font file ``font`` names: None for DejaVu Sans, a path, or a bundled font's file name or stem."""
    if font is None:
        font = DEFAULT_FONT
    path = Path(font)
    if not path.exists() and isinstance(font, str) and os.sep not in font and "/" not in font:
        bundled = {p.stem: p for p in fonts_folder().glob("*.ttf")}
        path = bundled.get(path.stem if path.suffix.lower() == ".ttf" else font, path)
    if not path.exists():
        raise DataError(f"font file {font} does not exist (bundled fonts: "
                        f"{', '.join(p.stem for p in bundled_fonts())})")
    from lab.safe_read import FileProblem, check_file
    try:
        check_file(path, max_bytes=64 * 2**20, what="font file")
    except FileProblem as exc:
        raise DataError(f"font {exc.where} {exc.problem}") from None
    return path.resolve()


@functools.lru_cache(maxsize=2048)
def _unit_glyph(font_file: str, letter: str) -> MplPath:
    """The outline of ``letter`` with its bounding box centred on (0, 0) and the font's "H" 1 unit tall."""
    try:
        font = font_manager.get_font(font_file)
    except (OSError, RuntimeError) as exc:
        raise DataError(f"{font_file} is not a font file matplotlib can read: {exc}") from None
    if font.get_char_index(ord(letter)) == 0:
        raise DataError(f"font {font_file} has no glyph for {letter!r}")
    prop = font_manager.FontProperties(fname=font_file)
    # cap height, not em size, sets the scale: fonts differ a lot in how much of the em their capitals fill
    has_h = font.get_char_index(ord("H")) != 0
    cap_height = TextPath((0, 0), "H", size=1, prop=prop).get_extents().height if has_h else 0.7
    outline = TextPath((0, 0), letter, size=1, prop=prop)
    box = outline.get_extents()
    to_unit = Affine2D().translate(-box.x0 - box.width / 2, -box.y0 - box.height / 2).scale(1 / cap_height)
    glyph = MplPath(to_unit.transform(outline.vertices), outline.codes, readonly=True)
    glyph.should_simplify = False  # simplification depends on rcParams; glyph pixels must not
    return glyph


def _check_letter(letter: str) -> str:
    if letter not in LETTER_CLASSES:
        raise ValueError(f"unknown letter {letter!r}: choose one capital letter A-Z")
    return letter


def _placement(size: float, angle: float, dx: float, dy: float, shape: int) -> Affine2D:
    # y grows upward here; Agg flips rows so row 0 of the image is the top
    return Affine2D().scale(size).rotate_deg(angle).translate(shape / 2 + dx, shape / 2 - dy)


def _rasterise(renderer: RendererAgg, glyph: MplPath, placement: Affine2D, invert: bool) -> np.ndarray:
    """Fill ``glyph`` under ``placement`` with anti-aliasing; float32 ink coverage 0..1 (1 - that if ``invert``)."""
    renderer.clear()
    gc = renderer.new_gc()
    gc.set_linewidth(0)   # fill only: a stroke would fatten thin fonts
    gc.set_snap(False)
    renderer.draw_path(gc, glyph, placement, rgbFace=(1.0, 1.0, 1.0))
    gc.restore()
    ink = np.asarray(renderer.buffer_rgba())[:, :, 3].astype(np.float32) / np.float32(255)
    return np.float32(1) - ink if invert else ink


def render_letter(letter: str, *, font: str | os.PathLike[str] | None = None, size: float = CLEAN_SIZE,
                  angle: float = 0.0, dx: float = 0.0, dy: float = 0.0, invert: bool = False,
                  shape: int = SHAPE) -> np.ndarray:
    """``letter`` drawn as a float32 [shape, shape] image, ink 1 on 0 (0 on 1 when ``invert``).

    ``size`` is the font's cap height ("H") in pixels; the glyph's bounding box is centred, turned ``angle``
    degrees anticlockwise about its centre and moved ``dx`` pixels right and ``dy`` pixels down. ``font`` is a
    font file or a bundled font's stem ("DejaVuSerif-Bold"); None is DejaVu Sans.
    """
    _check_letter(letter)
    if int(shape) != shape or shape < 8:
        raise ValueError(f"shape must be a whole number of pixels, at least 8, not {shape}")
    if not size > 0:
        raise ValueError(f"size must be a positive number of pixels, not {size}")
    glyph = _unit_glyph(str(resolve_font(font)), letter)
    renderer = RendererAgg(int(shape), int(shape), 72)
    return _rasterise(renderer, glyph, _placement(size, angle, dx, dy, int(shape)), invert)


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of a read-only array that owns its memory: numpy lets no one turn the view writeable."""
    if array.base is not None:  # e.g. np.tile's output is a view of a writeable array
        array = array.copy()
    array.flags.writeable = False
    return array.view()


@functools.lru_cache(maxsize=1)
def _clean_arrays() -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([render_letter(c) for c in LETTER_CLASSES])
    return _read_only(images), _read_only(np.arange(len(LETTER_CLASSES), dtype=np.int64))


def load_letters_clean() -> Dataset:
    """A-Z, one centred DejaVu Sans rendering each (cap height 70 px), train = test: the memorisation task.

    The arrays are read-only views of one cached copy; callers that need to change them copy first.
    """
    images, labels = _clean_arrays()
    return Dataset(name="letters", x_train=images, y_train=labels, x_test=images, y_test=labels,
                   classes=LETTER_CLASSES, pixel_max=1.0,
                   note="the 10,000-128-26 memorisation task: one centred DejaVu Sans rendering per letter "
                        f"(cap height {CLEAN_SIZE:g} px of {SHAPE}), train and test are the same 26 images")


def split_fonts(test_fonts: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train, test) bundled font stems. ``test_fonts`` names stems, file names or families ("DejaVu Serif");
    None holds out every family whose name contains "Serif" or "Mono"."""
    fonts = bundled_fonts()
    if test_fonts is None:
        held = {p.stem for p in fonts if any(m in font_family(p) for m in HELD_OUT_MARKERS)}
    else:
        if isinstance(test_fonts, (str, os.PathLike)):
            test_fonts = (test_fonts,)
        held = set()
        for name in test_fonts:
            stem = Path(name).stem if str(name).lower().endswith(".ttf") else str(name)
            matches = {p.stem for p in fonts if stem in (p.stem, font_family(p))}
            if not matches:
                raise ValueError(f"test font {name!r} is not a bundled letter font: choose from "
                                 f"{', '.join(p.stem for p in fonts)} or a family name")
            held |= matches
    train = tuple(p.stem for p in fonts if p.stem not in held)
    test = tuple(p.stem for p in fonts if p.stem in held)
    if not train or not test:
        raise ValueError(f"the font split leaves no {'train' if not train else 'test'} fonts "
                         f"(held out: {', '.join(test) or 'none'})")
    return train, test


def _draw_augmented(fonts: tuple[str, ...], per_letter: int, rng: np.random.Generator,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``per_letter`` random renderings of each letter; labels cycle A..Z so every prefix is balanced."""
    n = per_letter * len(LETTER_CLASSES)
    labels = np.tile(np.arange(len(LETTER_CLASSES), dtype=np.int64), per_letter)
    font_index = rng.integers(len(fonts), size=n)
    sizes = rng.uniform(*SIZE_RANGE, size=n)
    angles = rng.uniform(-MAX_ANGLE, MAX_ANGLE, size=n)
    shifts = rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=(n, 2))
    inverts = rng.random(n) < 0.5
    files = [str(resolve_font(f)) for f in fonts]
    renderer = RendererAgg(SHAPE, SHAPE, 72)
    images = np.empty((n, SHAPE, SHAPE), dtype=np.float32)
    room = SHAPE - 2 * FRAME_MARGIN
    for k in range(n):
        glyph = _unit_glyph(files[font_index[k]], LETTER_CLASSES[labels[k]])
        box = glyph.transformed(Affine2D().scale(sizes[k]).rotate_deg(angles[k])).get_extents()
        size = sizes[k] * min(1.0, room / max(box.width, box.height))  # wide letters turned: shrink to fit
        slack_x = max(0.0, (room - box.width * size / sizes[k]) / 2)
        slack_y = max(0.0, (room - box.height * size / sizes[k]) / 2)
        dx, dy = np.clip(shifts[k], [-slack_x, -slack_y], [slack_x, slack_y])
        images[k] = _rasterise(renderer, glyph, _placement(size, angles[k], dx, dy, SHAPE), bool(inverts[k]))
    return images, labels, np.asarray(fonts)[font_index]


@functools.lru_cache(maxsize=2)  # the default set is ~52 MB of float32 pixels
def _augmented_arrays(per_letter: int, test_per_letter: int, seed: int, train_fonts: tuple[str, ...],
                      test_fonts: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    arrays = (*_draw_augmented(train_fonts, per_letter, train_rng), *_draw_augmented(test_fonts, test_per_letter,
                                                                                     test_rng))
    return tuple(_read_only(a) for a in arrays)


def _augmented(per_letter: int, test_per_letter: int, seed: int, test_fonts: tuple[str, ...] | None,
               ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[np.ndarray, ...]]:
    for name, count in (("per_letter", per_letter), ("test_per_letter", test_per_letter)):
        if isinstance(count, bool) or int(count) != count or count < 1:
            raise ValueError(f"{name} must be a whole number of images per letter, at least 1, not {count}")
    train, test = split_fonts(test_fonts)
    return train, test, _augmented_arrays(int(per_letter), int(test_per_letter), int(seed), train, test)


def load_letters_augmented(per_letter: int = 40, seed: int = 0, test_fonts: tuple[str, ...] | None = None,
                           test_per_letter: int = 10) -> Dataset:
    """A-Z drawn at random: ``per_letter`` train and ``test_per_letter`` test images per letter, seeded.

    Each image picks a font, a cap height in :data:`SIZE_RANGE`, a turn within +-25 degrees, a shift of up to
    14 px (kept inside the frame) and a polarity at random. Test images use only the held-out fonts
    (:func:`split_fonts`), so test accuracy measures reading unseen fonts. :func:`letters_fonts` names the
    font of every image. Arrays are read-only and cached per argument set.
    """
    train, test, (x_train, y_train, _, x_test, y_test, _) = _augmented(per_letter, test_per_letter, seed,
                                                                       test_fonts)
    note = (f"random font, cap height {SIZE_RANGE[0]:g}-{SIZE_RANGE[1]:g} px, rotation +-{MAX_ANGLE:g} deg, "
            f"shift up to {MAX_SHIFT:g} px, either polarity; seed {seed}; "
            f"train fonts: {', '.join(train)}; held-out test fonts: {', '.join(test)}")
    return Dataset(name="letters-augmented", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   classes=LETTER_CLASSES, pixel_max=1.0, note=note)


def letters_fonts(per_letter: int = 40, seed: int = 0, test_fonts: tuple[str, ...] | None = None,
                  test_per_letter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The font stem of every train and test image of ``load_letters_augmented`` with the same arguments."""
    _, _, (_, _, fonts_train, _, _, fonts_test) = _augmented(per_letter, test_per_letter, seed, test_fonts)
    return fonts_train, fonts_test
