"""The end-to-end run's clean-up, with fakes that record the order of calls
and fail where a test says (the real run needs Docker, minikube and pulumi)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.cleanup import CleanupError, clean_up


class Machine:
    """Records each step; a step named in `failing` raises, as the Automation
    API raises CommandError and subprocess.run(check=True) CalledProcessError."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.calls: list[str] = []

    def step(self, name: str) -> Callable[[], None]:
        def run() -> None:
            self.calls.append(name)
            if name in self.failing:
                raise RuntimeError(f"{name} went wrong")

        return run

    def remove_stack(self, force: bool) -> None:
        self.step("stack rm --force" if force else "stack rm")()


def test_a_run_that_failed_before_destroy_is_destroyed_then_removed_then_its_profile_deleted() -> None:
    machine = Machine()
    clean_up(machine.step("destroy"), machine.remove_stack, machine.step("minikube delete"))
    assert machine.calls == ["destroy", "stack rm", "minikube delete"]


def test_a_run_that_already_destroyed_only_removes_the_stack_and_the_profile() -> None:
    machine = Machine()
    clean_up(None, machine.remove_stack, machine.step("minikube delete"))
    assert machine.calls == ["stack rm", "minikube delete"]


def test_the_profile_is_deleted_even_when_removing_the_stack_fails() -> None:
    machine = Machine("stack rm")
    with pytest.raises(CleanupError, match="removing the stack failed: stack rm went wrong"):
        clean_up(machine.step("destroy"), machine.remove_stack, machine.step("minikube delete"))
    assert machine.calls == ["destroy", "stack rm", "minikube delete"]


def test_a_failed_destroy_on_minikube_still_removes_everything() -> None:
    """Deleting the profile takes every release with it, so forcing the stack away loses nothing."""
    machine = Machine("destroy")
    with pytest.raises(CleanupError, match="destroy failed: destroy went wrong"):
        clean_up(machine.step("destroy"), machine.remove_stack, machine.step("minikube delete"))
    assert machine.calls == ["destroy", "stack rm --force", "minikube delete"]


def test_a_failed_destroy_on_an_existing_cluster_keeps_the_stack() -> None:
    """A forced removal there would leave the releases in the user's cluster
    with no state to delete them."""
    machine = Machine("destroy")
    with pytest.raises(CleanupError) as failed:
        clean_up(machine.step("destroy"), machine.remove_stack, kept="pulumi destroy --stack e2e-1")
    assert machine.calls == ["destroy"]
    assert str(failed.value) == (
        "destroy failed: destroy went wrong; the stack is kept with what it installed: pulumi destroy --stack e2e-1"
    )


def test_every_failure_is_reported() -> None:
    machine = Machine("destroy", "stack rm --force", "minikube delete")
    with pytest.raises(CleanupError) as failed:
        clean_up(machine.step("destroy"), machine.remove_stack, machine.step("minikube delete"))
    assert str(failed.value).count("went wrong") == 3
