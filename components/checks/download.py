"""The one door through which the program downloads on the host (chart
indexes, the Gateway API CRDs, Istio's dashboards): a time limit, the proxy
the environment names, and one error shape (`DownloadError`, one line).
Beside it, the host's cache of downloads that never change (`cache_dir`,
`read_cached`, `write_cached`), so that they are read once, not on every preview.

Callers reach it as `download.download_text`, looked up when they call, so the
tests' harness can put a reader of its own loopback copies in its place."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from components.model.settings import PROJECT

DOWNLOAD_TIMEOUT_SECONDS = 10
# A folder the cache makes: searchable by all, writable by its owner alone
# (mkdir takes the umask off, which can only take more away).
CACHE_FOLDER_MODE = 0o755


class DownloadError(Exception):
    """The download failed; the message says why, in one line."""


def download_text(url: str, timeout: float | None = None) -> str:
    """The UTF-8 text at `url`, waiting at most `timeout` seconds (DOWNLOAD_TIMEOUT_SECONDS unless given)."""
    limit = DOWNLOAD_TIMEOUT_SECONDS if timeout is None else timeout
    try:
        # A fresh opener: its ProxyHandler reads http_proxy/https_proxy/no_proxy
        # now (urllib.request.getproxies; urlopen's opener is built once per
        # process and keeps the first).
        with urllib.request.build_opener().open(url, timeout=limit) as response:
            return str(response.read().decode("utf-8"))
    except urllib.error.HTTPError as problem:
        raise DownloadError(f"HTTP {problem.code} {problem.reason}") from None
    except urllib.error.URLError as problem:
        reason = problem.reason
        raise DownloadError(
            f"no answer within {limit:g} s" if isinstance(reason, TimeoutError) else str(reason)
        ) from None
    except TimeoutError:
        raise DownloadError(f"no answer within {limit:g} s") from None
    except UnicodeDecodeError:
        raise DownloadError("the answer is not UTF-8 text") from None


def user_cache_dir(environment: Mapping[str, str], platform: str, home: Path) -> Path:
    """local-mesh's folder in the user's cache: `$XDG_CACHE_HOME/local-mesh` when
    XDG_CACHE_HOME is an absolute path (the XDG Base Directory Specification
    ignores a relative one), else `~/Library/Caches/local-mesh` on macOS (Apple's
    place for caches; Homebrew keeps its own in ~/Library/Caches/Homebrew there
    and in ~/.cache/Homebrew on Linux, Homebrew/install install.sh), else
    `~/.cache/local-mesh` (the XDG default)."""
    configured = environment.get("XDG_CACHE_HOME", "")
    if configured and Path(configured).is_absolute():
        return Path(configured) / PROJECT
    if platform == "darwin":
        return home / "Library" / "Caches" / PROJECT
    return home / ".cache" / PROJECT


def cache_dir() -> Path:
    """This user's cache folder for local-mesh (`user_cache_dir` of this process)."""
    return user_cache_dir(os.environ, sys.platform, Path.home())


def read_cached(name: str) -> str | None:
    """The cached text under `name` (a relative path), or None when there is
    none, it cannot be read, or anyone but its owner may write it (then anyone
    could have put it there)."""
    path = cache_dir() / name
    try:
        with path.open(encoding="utf-8") as cached:
            status = os.fstat(cached.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            return cached.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_cached(name: str, text: str) -> Path:
    """Keep `text` under `name` in the cache, atomically: a reader sees the
    old file or the whole new one, never part of it. Raises OSError."""
    path = cache_dir() / name
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=CACHE_FOLDER_MODE)
    # mkstemp makes the file 0600 in the same folder, so the rename is atomic.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as partial:
            partial.write(text)
            partial.flush()
            os.fsync(partial.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
