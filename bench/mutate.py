"""`make mutate`: how many realistic slips the test suite catches (a benchmark, not a test).

Each slip in bench/mutations.yaml is one small edit that breaks something a
user sees. The project is copied to a temporary folder (the files git knows,
as they are in the working tree, without .venv), each slip is applied alone to
a copy, the fast suite (pytest without e2e) runs against it with this
checkout's .venv, and a table of caught/missed slips and the score is printed.
A slip whose text is no longer in its file is "stale": reported, never counted
as caught, so the list stays honest as the code changes.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SLIPS = Path(__file__).resolve().parent / "mutations.yaml"
# tests/test_mutate.py checks that every slip still finds its text in the
# unmodified code: in a copy with the slip applied that check fails by
# construction, so it must not count as catching the slip.
PYTEST = [
    str(REPO / ".venv" / "bin" / "pytest"),
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "--deselect",
    "tests/test_mutate.py::test_every_slip_still_applies_to_the_code_it_names",
]
# A slip that makes the suite hang is caught (the suite does not pass), but
# should not hold the benchmark forever.
SUITE_TIMEOUT_SECONDS = 600
# The machine this runs on has 2 cores; each worker runs one suite at a time.
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class Slip:
    id: str
    file: str
    find: str
    replace: str
    why: str


@dataclass(frozen=True)
class Outcome:
    slip: Slip
    result: str  # caught, missed, stale (find not in file) or ambiguous (found more than once)
    first_failure: str
    seconds: float


def load_slips(path: Path = SLIPS) -> list[Slip]:
    slips = [Slip(**entry) for entry in yaml.safe_load(path.read_text())]
    ids = [slip.id for slip in slips]
    duplicates = sorted({slip_id for slip_id in ids if ids.count(slip_id) > 1})
    if duplicates:
        raise ValueError(f"{path}: slip ids used more than once: {', '.join(duplicates)}")
    return slips


class UnusableSlipError(Exception):
    """`find` does not occur exactly once in the file: the slip is "stale"
    (not there any more) or "ambiguous" (there more than once)."""

    def __init__(self, result: str) -> None:
        super().__init__(result)
        self.result = result


def apply_slip(text: str, slip: Slip) -> str:
    """The file's text with the slip made."""
    count = text.count(slip.find)
    if count != 1:
        raise UnusableSlipError("stale" if count == 0 else "ambiguous")
    return text.replace(slip.find, slip.replace)


def project_files(repo: Path) -> list[str]:
    """The files git tracks or would track (untracked but not ignored), as they
    are in the working tree; deleted ones and .venv left out."""
    listing = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = sorted(set(filter(None, listing.split("\0"))))
    return [name for name in names if not name.startswith(".venv/") and (repo / name).is_file()]


def copy_project(repo: Path, destination: Path) -> None:
    for name in project_files(repo):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)


def first_failure(pytest_output: str) -> str:
    """The first FAILED/ERROR test of pytest's short summary (addopts has -ra);
    an error (in a fixture, or at import) is marked as one."""
    for line in pytest_output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            outcome, test = line.split(" ", 1)
            return ("" if outcome == "FAILED" else "(error) ") + test.split(" - ", 1)[0]
    return "(no test named: see the suite's output)"


def run_suite(copy: Path, upstream: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "LOCAL_MESH_UPSTREAM": str(upstream),
        # A slip can leave a file's size and second-resolution mtime unchanged;
        # no .pyc may outlive the edit it was compiled from.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        PYTEST, cwd=copy, env=environment, capture_output=True, text=True, timeout=SUITE_TIMEOUT_SECONDS, check=False
    )


def try_slip(slip: Slip, copies: queue.Queue[Path], upstream: Path) -> Outcome:
    copy = copies.get()
    started = time.monotonic()
    path = copy / slip.file
    try:
        original = path.read_text() if path.is_file() else ""
        try:
            path.write_text(apply_slip(original, slip))
        except UnusableSlipError as unusable:
            return Outcome(slip, unusable.result, "", 0.0)
        try:
            suite = run_suite(copy, upstream)
        except subprocess.TimeoutExpired:
            return Outcome(slip, "caught", f"(suite timed out after {SUITE_TIMEOUT_SECONDS} s)", SUITE_TIMEOUT_SECONDS)
        finally:
            path.write_text(original)
        if suite.returncode == 0:
            return Outcome(slip, "missed", "", time.monotonic() - started)
        return Outcome(slip, "caught", first_failure(suite.stdout), time.monotonic() - started)
    finally:
        copies.put(copy)


def report(outcomes: Sequence[Outcome], wall_seconds: float) -> str:
    width = max(len(outcome.slip.id) for outcome in outcomes)
    lines = [f"{'slip':<{width}}  {'result':<9}  {'time':>6}  first failing test (or why it matters)"]
    for outcome in outcomes:
        detail = outcome.first_failure if outcome.result == "caught" else outcome.slip.why
        lines.append(f"{outcome.slip.id:<{width}}  {outcome.result:<9}  {outcome.seconds:>5.0f}s  {detail}".rstrip())
    caught = sum(outcome.result == "caught" for outcome in outcomes)
    stale = sum(outcome.result in ("stale", "ambiguous") for outcome in outcomes)
    lines.append("")
    lines.append(
        f"caught {caught} of {len(outcomes)} slips ({100 * caught / len(outcomes):.0f}%); "
        f"stale or ambiguous (not counted as caught): {stale}; wall time {wall_seconds:.0f} s"
    )
    return "\n".join(lines)


def mutate(slips: Iterable[Slip], workers: int, upstream: Path) -> list[Outcome]:
    slips = list(slips)
    with tempfile.TemporaryDirectory(prefix="local-mesh-mutate-") as scratch:
        paths = [Path(scratch) / f"copy-{index}" for index in range(workers)]
        copies: queue.Queue[Path] = queue.Queue()
        for copy in paths:
            copy_project(REPO, copy)
            copies.put(copy)
        baseline = run_suite(paths[0], upstream)
        if baseline.returncode != 0:
            raise SystemExit(f"the suite fails without any slip ({first_failure(baseline.stdout)}): fix that first")
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda slip: try_slip(slip, copies, upstream), slips))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slips", type=Path, default=SLIPS, help="the list of slips (YAML)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="suites run side by side")
    parser.add_argument("--only", nargs="*", default=None, metavar="ID", help="run only these slips")
    parser.add_argument(
        "--upstream",
        type=Path,
        default=Path(os.environ.get("LOCAL_MESH_UPSTREAM", REPO.parent / "shared" / "upstream")).resolve(),
        help="the shared/upstream folder the suite reads",
    )
    arguments = parser.parse_args(argv)
    slips = load_slips(arguments.slips)
    if arguments.only is not None:
        unknown = set(arguments.only) - {slip.id for slip in slips}
        if unknown:
            parser.error(f"no such slip: {', '.join(sorted(unknown))}")
        slips = [slip for slip in slips if slip.id in arguments.only]
    started = time.monotonic()
    outcomes = mutate(slips, arguments.workers, arguments.upstream)
    print(report(outcomes, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
