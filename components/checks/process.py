"""The one door through which the checks run a host tool: a time limit, and
one error shape (`ProcessError`, one line) when the tool is missing or does
not answer. What a tool's exit code means is its caller's to say. Also the
one door to this host's sockets (`loopback_port_is_free`)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from components.model.network import LOOPBACK

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


def loopback_port_is_free(port: int) -> bool:
    """Whether a process could listen on 127.0.0.1:`port` now: a bind without
    SO_REUSEADDR fails while anything listens there or on every address
    (Docker binds its published ports the same way: moby v28.5.2
    libnetwork/drivers/bridge/port_mapping_linux.go bindTCPOrUDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True
