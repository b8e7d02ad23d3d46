"""The one door through which the checks run a host tool: a time limit, and
one error shape (`ProcessError`, one line) when the tool is missing or does
not answer. What a tool's exit code means is its caller's to say."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

PROCESS_TIMEOUT_SECONDS = 30


class ProcessError(Exception):
    """The tool is not on PATH, could not start, or did not answer in time; the message says which."""


@dataclass(frozen=True)
class Finished:
    """A tool's answer: its exit code and what it printed."""

    tool: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def complaint(self) -> str:
        """Why it failed, in one line: its last line on stderr, or its exit code."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else f"{self.tool} exited {self.returncode}"


def run_process(command: Sequence[str], timeout: float = PROCESS_TIMEOUT_SECONDS) -> Finished:
    """Run `command` (no shell) and wait at most `timeout` seconds for it."""
    tool = command[0]
    if shutil.which(tool) is None:
        raise ProcessError(f"{tool} is not on PATH")
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProcessError(f"{tool} did not answer within {timeout:g} s") from None
    except OSError as problem:
        raise ProcessError(f"{tool} could not start ({problem.strerror or problem})") from None
    return Finished(tool, result.returncode, result.stdout, result.stderr)
