"""The Makefile's own path on a fresh clone: the real Makefile and
tools/fetch-tools.sh against the stand-in `pulumi`, `minikube` and `kubectl`
(tests/fakes/bin), in a copy of this working tree made a git repository of its
own, so that a test can also see what `make up` leaves changed in it."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.config import REPO
from harness.world import FAKE_BIN, fake_environment, fake_state
from tests.fakes.passphrase import opens


def project_files() -> list[str]:
    """The files git tracks or would track; where the tree is no git repository
    (bench/mutate.py's copy), every file that .gitignore does not exclude."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        return list(filter(None, listed.stdout.decode().split("\0")))
    ignored = [line.rstrip("/") for line in (REPO / ".gitignore").read_text().split() if line] + [".git"]
    return [
        path.relative_to(REPO).as_posix()
        for path in REPO.rglob("*")
        if path.is_file()
        and not any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(REPO).parts for pattern in ignored)
    ]


def copy_tree(destination: Path, with_venv: bool = True) -> Path:
    """A fresh clone of the working tree (tracked and new files, mtimes kept),
    with .venv the virtualenv this suite runs in, as `make test` left it."""
    for name in project_files():
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    if with_venv:
        (destination / ".venv").symlink_to(Path(sys.prefix))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "clone"], cwd=destination, check=True)
    return destination


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return copy_tree(tmp_path / "clone")


def make(clone: Path, machine: Path, *targets: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """`make TARGETS` on the stand-in laptop. The virtualenv is taken as built
    (`-o`): the suite's own is never reinstalled."""
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.runtime", *targets],
        cwd=clone,
        env={**fake_environment(machine), **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pulumi_calls(machine: Path) -> list[list[str]]:
    return [call[1:] for call in fake_state(machine)["calls"] if call[0] == "pulumi"]


def stack_file(clone: Path, stack: str) -> Path:
    # The DIY backend's layout (pulumi pkg/backend/diy/store.go, StackBasePath).
    return clone / ".pulumi-state" / ".pulumi" / "stacks" / "local-mesh" / f"{stack}.json"


def git_status(clone: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout


def test_the_stand_in_refuses_a_missing_state_folder_as_pulumi_does(tmp_path: Path) -> None:
    missing = tmp_path / ".pulumi-state"
    result = subprocess.run(
        [str(FAKE_BIN / "pulumi"), "stack", "select", "--create", "dev"],
        cwd=REPO,
        env={**fake_environment(tmp_path), "PULUMI_BACKEND_URL": f"file://{missing}", "PULUMI_CONFIG_PASSPHRASE": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f'error: unable to open state directory "file://{missing}": stat {missing}: no such file or directory\n'
    )


def test_make_up_on_a_fresh_clone_gets_past_the_stack_and_leaves_the_tree_clean(clone: Path, tmp_path: Path) -> None:
    machine = tmp_path / "machine"
    result = make(clone, machine, "up")
    assert result.returncode == 0, result.stderr
    assert pulumi_calls(machine) == [["stack", "select", "--create", "dev"], ["up", "--yes", "--stack", "dev"]]
    assert stack_file(clone, "dev").exists()
    # The committed salt is the empty passphrase's: creating the stack rewrote nothing.
    assert git_status(clone) == ""
    assert list((clone / ".tools" / "bin").iterdir()) == []  # the stand-ins on PATH are recent enough


def test_the_committed_salt_opens_with_the_empty_passphrase_only() -> None:
    salt = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["encryptionsalt"]
    assert opens(salt, "")
    assert not opens(salt, "my passphrase")


def test_a_passphrase_file_is_not_shadowed_by_makes_empty_default(clone: Path, tmp_path: Path) -> None:
    machine = tmp_path / "machine"
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("correct horse\n")
    result = make(clone, machine, "up", "STACK=alice", PULUMI_CONFIG_PASSPHRASE_FILE=str(passphrase_file))
    assert result.returncode == 0, result.stderr
    salt = yaml.safe_load((clone / "Pulumi.alice.yaml").read_text())["encryptionsalt"]
    assert opens(salt, "correct horse")


def test_another_passphrase_on_the_example_stack_is_refused_before_anything_runs(clone: Path, tmp_path: Path) -> None:
    machine = tmp_path / "machine"
    result = make(clone, machine, "up", PULUMI_CONFIG_PASSPHRASE="my passphrase")
    assert result.returncode != 0
    assert "error: could not create secrets manager for new stack: incorrect passphrase" in result.stderr
    assert pulumi_calls(machine) == [["stack", "select", "--create", "dev"]]
    assert git_status(clone) == ""


@pytest.mark.parametrize("target", ["destroy", "verify"])
def test_destroy_and_verify_of_a_misspelled_stack_create_nothing(clone: Path, tmp_path: Path, target: str) -> None:
    machine = tmp_path / "machine"
    assert make(clone, machine, "up").returncode == 0
    result = make(clone, machine, target, "STACK=typo")
    assert result.returncode != 0
    assert not stack_file(clone, "typo").exists()
    assert not (clone / "Pulumi.typo.yaml").exists()
    assert ["stack", "select", "--create", "typo"] not in pulumi_calls(machine)
    if target == "destroy":
        assert "error: no stack named 'typo' found" in result.stderr


def test_stack_output_of_a_stack_never_deployed_is_empty(clone: Path, tmp_path: Path) -> None:
    machine = tmp_path / "machine"
    assert make(clone, machine, "up").returncode == 0
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", "dev"],
        cwd=clone,
        env={**fake_environment(machine), "PULUMI_BACKEND_URL": f"file://{clone / '.pulumi-state'}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, json.loads(result.stdout)) == (0, {})


def test_a_bare_make_says_what_to_run_and_builds_nothing(tmp_path: Path) -> None:
    bare = copy_tree(tmp_path / "clone", with_venv=False)
    result = make(bare, tmp_path / "machine")
    assert result.returncode == 0, result.stderr
    assert "'make up'" in result.stdout and "'make test'" in result.stdout
    assert not (bare / ".venv").exists()
    listed = set(re.findall(r"^  make (\S+)", result.stdout, re.MULTILINE))
    docs = [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    named_in_docs = {target for path in docs for target in re.findall(r"`make (\w+)", path.read_text())}
    assert named_in_docs <= listed
