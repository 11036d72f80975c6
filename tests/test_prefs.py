"""The settings file (lab.gui.prefs) without a window: where it lives, a round trip, values checked
with the forms' own bounds, and every kind of unusable file named, set aside and replaced by defaults."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lab.gui.prefs import ENV_DIR, FILE_NAME, LOG_HEIGHT, MAX_BYTES, VERSION, Prefs, SettingsFile, config_dir, fit_geometry


@pytest.fixture
def settings(tmp_path, monkeypatch) -> SettingsFile:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    return SettingsFile()


def full_prefs() -> Prefs:
    prefs = Prefs(registry="/data/lab-registry", geometry="1400x900+10+20", log_visible=True, log_height=180,
                  theme="dark", evolution_arena="m2n2", stress_arena="neat", export_folder="/data/figures",
                  export={"formats": ["svg", "pdf"], "dpi": 600, "size": "double"})
    prefs.set_section("grokking", "task", {"step_cap": 600, "train_fraction": 0.4})
    prefs.set_section("grokking", "evolution", {"population": 24, "landscape": "tank", "racing": False})
    prefs.set_section("grokking", "stress", {"runs": 7, "device": "cpu"})
    prefs.set_section("m2n2", "stress_task", {"passes": 900})
    return prefs


def test_the_file_lives_in_the_folder_the_environment_names(settings, tmp_path):
    assert config_dir() == tmp_path / "config"
    assert settings.path == tmp_path / "config" / FILE_NAME


def test_without_the_environment_variable_it_is_the_platform_user_config_folder(monkeypatch):
    from platformdirs import user_config_dir
    monkeypatch.delenv(ENV_DIR, raising=False)
    assert config_dir() == Path(user_config_dir("speciation-lab", appauthor=False))
    assert config_dir().name == "speciation-lab"


def test_no_file_gives_the_defaults_and_no_message(settings):
    prefs, problem = settings.load()
    assert prefs == Prefs() and problem is None
    assert not settings.path.exists(), "reading never writes"


def test_settings_round_trip_through_a_versioned_file_with_normal_permissions(settings):
    prefs = full_prefs()
    old = os.umask(0o022)
    try:
        settings.save(prefs)
    finally:
        os.umask(old)
    data = json.loads(settings.path.read_text())
    assert data["version"] == VERSION and data["arenas"]["grokking"]["task"] == {"step_cap": 600, "train_fraction": 0.4}
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o644
    assert [p.name for p in settings.path.parent.iterdir()] == [FILE_NAME], "no temp file left behind"
    loaded, problem = settings.load()
    assert problem is None and loaded == prefs


def test_values_outside_their_bounds_or_of_the_wrong_type_fall_back_to_defaults(settings):
    settings.path.parent.mkdir(parents=True)
    settings.path.write_text(json.dumps({
        "version": 1, "theme": "purple", "geometry": "enormous", "log_height": 5, "log_visible": "yes",
        "evolution_arena": "no-such-arena", "registry": 42, "some_future_key": [1, 2],
        "export": {"formats": ["png", "gif"], "dpi": 10, "size": "double"},
        "arenas": {
            "grokking": {"evolution": {"population": 100000, "generations": "8", "crossover_rate": 0.3,
                                       "racing": 1, "landscape": "swamp", "unknown": 3},
                         "task": {"step_cap": -5, "modulus": 23.5, "train_fraction": 0.45},
                         "stress": {"runs": 0, "seed_start": 3}},
            "no-such-arena": {"task": {"x": 1}},
            "m2n2": "not an object"}}))
    prefs, problem = settings.load()
    assert problem is None, "a well-formed file with bad values is not set aside"
    assert (prefs.theme, prefs.geometry, prefs.log_height, prefs.log_visible) == ("light", None, LOG_HEIGHT.default, False)
    assert prefs.evolution_arena is None and prefs.registry is None
    assert prefs.export == {"size": "double"}
    assert prefs.section("grokking", "evolution") == {"crossover_rate": 0.3}
    assert prefs.section("grokking", "task") == {"train_fraction": 0.45}
    assert prefs.section("grokking", "stress") == {"seed_start": 3}
    assert set(prefs.arenas) == {"grokking"}


def test_task_values_are_checked_by_the_task_itself(settings):
    settings.path.parent.mkdir(parents=True)
    # each value is a whole number, but a train fraction of 2 is not a task the arena accepts
    settings.path.write_text(json.dumps({"version": 1, "arenas": {"grokking": {"task": {"train_fraction": 2.0,
                                                                                         "step_cap": 600}}}}))
    prefs, problem = settings.load()
    assert problem is None and prefs.section("grokking", "task") == {"step_cap": 600}


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "is not valid JSON"),
    (b"[1, 2, 3]", "holds list, not a settings object"),
    (b'{"theme": "dark"}', "has no settings version"),
    (b'{"version": 99}', "newer Speciation Lab"),
    (b'{"version": 1, "arenas": [1]}', "has `arenas` as list"),
    (b'{"version": 1, "export": "png"}', "has `export` as str"),
    (b"\xff\xfe{}", "is UTF-16 text"),
    (b"{\"theme\": \"\xe9\"}", "is not UTF-8 text"),
    (b"[" * 100000 + b"]" * 100000, "is nested too deeply"),
    (b" " * (MAX_BYTES + 1), "bytes a settings file may have"),
    (b'{"version": 1, "version": 2}', "has the key 'version' twice"),
    (b'{"version": NaN}', "holds NaN at version"),
])
def test_an_unusable_file_is_named_set_aside_and_replaced_by_defaults(settings, content, reason):
    settings.path.parent.mkdir(parents=True)
    settings.path.write_bytes(content)
    prefs, problem = settings.load()
    assert prefs == Prefs()
    assert str(settings.path) in problem and reason in problem and "defaults are used" in problem
    assert "\n" not in problem, "one line"
    (aside,) = [p for p in settings.path.parent.iterdir() if p.name.startswith(f"{FILE_NAME}.corrupt-")]
    assert aside.name in problem and aside.read_bytes() == content, "kept whole for the user to look at"
    assert not settings.path.exists()
    settings.save(prefs)   # the defaults take its place
    assert settings.load() == (Prefs(), None)


def test_a_folder_where_the_file_should_be_is_set_aside(settings):
    settings.path.mkdir(parents=True)
    (settings.path / "inside").write_text("x")
    prefs, problem = settings.load()
    assert prefs == Prefs() and "is a folder, not a settings file" in problem
    (aside,) = [p for p in settings.path.parent.iterdir() if ".corrupt-" in p.name]
    assert (aside / "inside").read_text() == "x"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_not_read_so_nothing_blocks(settings):
    settings.path.parent.mkdir(parents=True)
    os.mkfifo(settings.path)
    prefs, problem = settings.load()
    assert prefs == Prefs() and "is not a regular file" in problem


def test_a_stored_window_geometry_is_made_to_fit_the_screen():
    assert fit_geometry("1280x760+0+0", 1920, 1080) == "1280x760+0+0"
    assert fit_geometry("1280x760+3000+-20", 1920, 1080) == "1280x760+640+0"
    assert fit_geometry("3000x2000+5+5", 1280, 800) == "1280x800+0+0"
    assert fit_geometry("not a geometry", 1280, 800) is None and fit_geometry(None, 1280, 800) is None
