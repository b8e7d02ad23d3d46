"""Secrets on disk: the credentials of a cluster local-mesh did not create are
never kept in a state that an empty passphrase protects."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.cluster import secrets_left_unprotected
from components.model.settings import ConfigError
from harness.program import ProgramFailedError, run_program
from harness.world import add_existing_cluster

SALTED = "encryptionsalt: v1:AAAAAAAAAAA=:v1:AAAAAAAAAAAAAAAA:AAAA\nconfig: {}\n"


@pytest.mark.parametrize(
    ("stack_file", "environment", "passphrase_file", "unprotected"),
    [
        (SALTED, {"PULUMI_CONFIG_PASSPHRASE": ""}, None, True),
        (SALTED, {"PULUMI_CONFIG_PASSPHRASE": "mine"}, None, False),
        # Pulumi reads the variable before the file whenever it is set.
        (SALTED, {"PULUMI_CONFIG_PASSPHRASE": ""}, "mine\n", True),
        (SALTED, {}, " \n", True),
        (SALTED, {}, "mine\n", False),
        # A passphrase typed at the CLI's prompt is not seen: not refused.
        (SALTED, {}, None, False),
        # Another secrets provider (no salt): the passphrase does not matter.
        ("secretsprovider: awskms://alias/x\nconfig: {}\n", {"PULUMI_CONFIG_PASSPHRASE": ""}, None, False),
        (None, {"PULUMI_CONFIG_PASSPHRASE": ""}, None, False),
    ],
)
def test_an_empty_passphrase_is_told_apart_as_pulumi_reads_it(
    tmp_path: Path,
    stack_file: str | None,
    environment: dict[str, str],
    passphrase_file: str | None,
    unprotected: bool,
) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    if stack_file is not None:
        path.write_text(stack_file)
    if passphrase_file is not None:
        (tmp_path / "passphrase").write_text(passphrase_file)
        environment = {**environment, "PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "passphrase")}
    assert secrets_left_unprotected(environment, path) is unprotected


def existing_cluster_run(tmp_path: Path, passphrase: str) -> None:
    root = tmp_path / "machine"
    add_existing_cluster(root, "kind-dev")
    run_program(
        "dev",
        root,
        {"cluster": "existing", "kubeContext": "kind-dev"},
        machine={"PULUMI_CONFIG_PASSPHRASE": passphrase},
    )


def test_an_existing_cluster_under_an_empty_passphrase_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    # Pulumi.dev.yaml carries the empty passphrase's salt (make's default).
    with pytest.raises(ProgramFailedError) as failure:
        existing_cluster_run(tmp_path, "")
    assert isinstance(failure.value.cause, ConfigError)
    (line,) = str(failure.value.cause).splitlines()
    assert line.startswith("local-mesh:cluster = 'existing' keeps the credentials of context kind-dev")
    assert "PULUMI_CONFIG_PASSPHRASE" in line
    assert failure.value.registrations == []


def test_an_existing_cluster_under_a_passphrase_of_ones_own_runs(tmp_path: Path) -> None:
    existing_cluster_run(tmp_path, "mine")
