"""The pure parts of the mutation benchmark (bench/mutate.py); the benchmark
itself runs the whole suite per slip and is not a test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.mutate import REPO, Slip, UnusableSlipError, apply_slip, first_failure, load_slips, project_files


def slip(find: str, replace: str = "X") -> Slip:
    return Slip(id="s", file="f.py", find=find, replace=replace, why="because")


def test_a_slip_replaces_exactly_its_text() -> None:
    assert apply_slip("timeout = 900\nwait = 300\n", slip("900", "5")) == "timeout = 5\nwait = 300\n"


def test_a_slip_whose_text_is_gone_is_stale_and_one_found_twice_is_ambiguous() -> None:
    with pytest.raises(UnusableSlipError) as gone:
        apply_slip("timeout = 600\n", slip("timeout = 900"))
    assert gone.value.result == "stale"
    with pytest.raises(UnusableSlipError) as twice:
        apply_slip("a = True\nb = True\n", slip("True"))
    assert twice.value.result == "ambiguous"


def test_the_slip_list_names_files_of_the_project_and_says_why(tmp_path: Path) -> None:
    slips = load_slips()
    assert slips
    for entry in slips:
        assert (REPO / entry.file).is_file(), entry.id
        assert entry.find and entry.find != entry.replace and entry.why, entry.id
    twice = tmp_path / "slips.yaml"
    twice.write_text("- {id: a, file: f, find: x, replace: y, why: w}\n" * 2)
    with pytest.raises(ValueError, match="slip ids used more than once: a"):
        load_slips(twice)


def test_every_slip_still_applies_to_the_code_it_names() -> None:
    """A stale slip measures nothing: the list must move with the code."""
    for entry in load_slips():
        apply_slip((REPO / entry.file).read_text(), entry)


def test_the_first_failing_test_is_read_from_pytests_summary() -> None:
    output = (
        "....F\n=========================== short test summary info ============================\n"
        "FAILED tests/test_agreement.py::test_x[demo] - AssertionError: assert False\n"
        "!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    )
    assert first_failure(output) == "tests/test_agreement.py::test_x[demo]"
    assert first_failure("ERROR tests/test_program.py - ImportError\n") == "(error) tests/test_program.py"


def test_the_copy_holds_the_working_tree_without_ignored_files_or_the_venv(tmp_path: Path) -> None:
    def git(*arguments: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    git("init", "--quiet")
    (tmp_path / ".gitignore").write_text("*.log\n")
    for name in ("tracked.py", "deleted.py", "ignored.log", ".venv/bin/python"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    git("add", "--force", ".gitignore", "tracked.py", "deleted.py", ".venv/bin/python")
    (tmp_path / "deleted.py").unlink()
    (tmp_path / "new.py").write_text("not committed yet")
    assert project_files(tmp_path) == [".gitignore", "new.py", "tracked.py"]
