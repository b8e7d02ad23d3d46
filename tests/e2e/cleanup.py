"""What an end-to-end run leaves behind, whichever stage failed: a plain
function, so that its order is tested with fakes in milliseconds
(tests/e2e/test_cleanup.py) and not only on a laptop with Docker."""

from __future__ import annotations

from collections.abc import Callable


class CleanupError(Exception):
    """Something of the run could not be removed; the message says what, and what to do."""


def clean_up(
    destroy: Callable[[], object] | None,
    remove_stack: Callable[[bool], object],
    delete_profile: Callable[[], object] | None = None,
    kept: str = "",
) -> None:
    """Destroy what the stack still holds, then remove the stack, then delete
    the throwaway minikube profile; each is tried even when an earlier one
    failed, and every failure is raised together at the end.

    `destroy` is None once a stage destroyed the stack. `remove_stack(force)`
    removes it: without force after a destroy, so that `pulumi stack rm`
    refuses if anything is still recorded ("still has resources; removal
    rejected", pulumi/pulumi pkg/cmd/pulumi/stack/stack_rm.go). A stack whose
    destroy failed is force-removed only where its profile goes too; on an
    existing cluster (no profile) a forced removal would leave its releases in
    that cluster with no state to delete them, so the stack is kept, and
    `kept` says how to reach it."""
    problems: list[str] = []
    destroyed = True
    if destroy is not None:
        try:
            destroy()
        except Exception as error:
            destroyed = False
            problems.append(f"destroy failed: {error}")
    if destroyed or delete_profile is not None:
        try:
            remove_stack(not destroyed)
        except Exception as error:
            problems.append(f"removing the stack failed: {error}")
    else:
        problems.append(f"the stack is kept with what it installed: {kept}")
    if delete_profile is not None:
        try:
            delete_profile()
        except Exception as error:
            problems.append(f"deleting the profile failed: {error}")
    if problems:
        raise CleanupError("; ".join(problems))
