"""The one door through which the program downloads on the host (chart
indexes, the Gateway API CRDs, Istio's dashboards): a time limit, the proxy
the environment names, and one error shape (`DownloadError`, one line).

Callers reach it as `download.download_text`, looked up when they call, so the
tests' harness can put a reader of its own loopback copies in its place."""

from __future__ import annotations

import urllib.error
import urllib.request

DOWNLOAD_TIMEOUT_SECONDS = 10


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
