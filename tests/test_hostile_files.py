"""Hostile files handed to the command line: each is refused with one line naming the file and the
problem, exit code 2, no traceback, and the registry byte-identical; one bad line of trials.jsonl
is skipped with a warning and every other record still reads.

The corpus: deep nesting, huge numbers and strings, NaN/Infinity literals, duplicate keys,
non-UTF-8 bytes, UTF-16, NUL bytes, truncation, empty files, a folder, a FIFO and a symlink out
of the registry where a file is expected.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.cli import main
from lab.registry import Registry, founders
from tests.fuzzing import snapshot

VALID = founders("grokking")[0].to_json().encode()
CORPUS: dict[str, bytes] = {
    "deep list": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested past the limit": b"[" * 70 + VALID + b"]" * 70,
    "huge integer": VALID.replace(b'"generation": 0', b'"generation": ' + b"9" * 100_000),
    "huge string": VALID.replace(b'"notes": "', b'"notes": "' + b"x" * 3_000_000),
    "NaN literal": VALID.replace(b'"dropout": 0.0', b'"dropout": NaN'),
    "Infinity literal": VALID.replace(b'"dropout": 0.0', b'"dropout": -Infinity'),
    "overflowing float": VALID.replace(b'"dropout": 0.0', b'"dropout": 1e999'),
    "duplicate key": VALID.replace(b'"dropout": 0.0', b'"dropout": 0.0, "dropout": 0.1'),
    "latin-1 byte": VALID.replace(b'"notes": "', b'"notes": "\xe9'),
    "UTF-16": VALID.decode().encode("utf-16"),
    "NUL bytes": b"\x00" * 64,
    "lone surrogate": VALID.replace(b'"notes": "', b'"notes": "\\ud800'),
    "truncated": VALID[: len(VALID) // 2],
    "empty": b"",
    "whitespace": b" \n\t ",
}
SPECIAL = ["folder", "fifo", "symlink out"]


def _make(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "in" / "hostile.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if case == "folder":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)
    elif case == "symlink out":
        outside = tmp_path / "outside.json"
        outside.write_bytes(b"{}")
        path.symlink_to(outside)
    else:
        path.write_bytes(CORPUS[case])
    return path


def _one_line_exit_2(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("case", list(CORPUS) + SPECIAL[:2])
@pytest.mark.parametrize("argv", [["genome", "validate"], ["registry", "import"], ["genome", "show"]])
def test_a_hostile_genome_file_is_refused_in_one_line(tmp_path, capsys, case, argv):
    if case == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("named pipes")
    if case == "folder" and argv == ["registry", "import"]:
        pytest.skip("import reads a folder as the genome files inside it (an empty one imports nothing)")
    path = _make(tmp_path, case)
    registry = Registry(tmp_path / "reg")
    registry.add_genomes(founders("grokking")[:2])
    before = snapshot(registry.root)
    code = main([*argv, str(path), "--registry", str(registry.root)])
    out, err = capsys.readouterr()
    if argv == ["registry", "import"]:   # a report: the file named with its problem, nothing imported
        assert code == 2 and "imported 0 genome(s)" in out and "FAILED" in out and "hostile.json" in out
        assert "Traceback" not in out + err and all(len(line) < 400 for line in out.splitlines())
    elif argv == ["genome", "validate"]:   # a report, then one error line
        _one_line_exit_2(code, err)
        assert "hostile.json" in out and "Traceback" not in out
    else:
        _one_line_exit_2(code, err)
        assert "hostile.json" in err
    assert snapshot(registry.root) == before


def test_a_utf8_bom_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + VALID)
    assert main(["genome", "validate", str(path), "--registry", str(tmp_path / "reg")]) == 0


@pytest.mark.parametrize("case", ["deep list", "NaN literal", "duplicate key", "latin-1 byte", "empty", "folder"])
def test_a_hostile_network_file_is_refused_in_one_line(tmp_path, capsys, case):
    path = _make(tmp_path, case)
    code = main(["neat", "--evaluate", str(path), "--registry", str(tmp_path / "reg")])
    _one_line_exit_2(code, capsys.readouterr().err)


@pytest.mark.parametrize("name", ["species.json", "hall_of_fame.json"])
@pytest.mark.parametrize("case", ["deep list", "huge integer", "NaN literal", "duplicate key", "latin-1 byte",
                                  "empty", "folder", "fifo", "symlink out"])
def test_a_hostile_registry_file_is_named_and_left_as_it_was(tmp_path, capsys, name, case):
    registry = Registry(tmp_path / "reg")
    registry.add_genomes(founders("grokking"))
    hostile = _make(tmp_path, case)
    os.replace(hostile, registry.root / name)
    before = snapshot(registry.root)
    argv = ["phylogeny"] if name == "species.json" else ["registry", "hof"]
    code = main([*argv, "--registry", str(registry.root)])
    err = capsys.readouterr().err
    _one_line_exit_2(code, err)
    assert name in err
    assert snapshot(registry.root) == before
    assert os.path.lexists(registry.root / name)


@pytest.mark.parametrize("case", ["deep list", "huge integer", "NaN literal", "duplicate key", "latin-1 byte",
                                  "NUL bytes", "lone surrogate"])
def test_one_hostile_trials_line_is_skipped_and_the_rest_still_reads(tmp_path, capsys, case):
    from lab.arenas.base import TrialResult
    registry = Registry(tmp_path / "reg")
    g = founders("grokking")[0]
    registry.add_genome(g)

    def trial(seed: int) -> TrialResult:
        return TrialResult(genome_id=g.id, task_id="t", seed=seed, status="grokked", metrics={"steps_to_grok": 9},
                           curve={}, wall_time=0.1, arena="grokking")
    registry.record_trial(trial(1))
    with open(registry.trials_path, "ab") as fh:
        fh.write(CORPUS[case].replace(b"\n", b" ") + b"\n")
    registry.record_trial(trial(2))
    before = snapshot(registry.root)
    assert main(["registry", "list", "--registry", str(registry.root)]) == 0
    assert main(["trials", "show", g.id, "--registry", str(registry.root)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert sorted(t.seed for t in Registry(registry.root).trials()) == [1, 2]
    assert snapshot(registry.root) == before


def test_a_trials_file_linked_out_of_the_registry_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"not": "a trial"}\n')
    root = tmp_path / "reg"
    root.mkdir()
    (root / "trials.jsonl").symlink_to(outside)
    registry = Registry(root)
    assert registry.trials() == []
    assert any("leads outside" in p for p in registry.problems)
