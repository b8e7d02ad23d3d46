"""Chart-index checks: every chart version the stack installs is published
in its repository's index, read once per repository through the one download
door (components/checks/download.py). `index_problems` is pure (an index and
the versions wanted in, messages out)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from components.checks import download
from components.model.plan import Plan
from components.model.settings import PROJECT

_CHART_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")
SUGGESTED_VERSIONS = 3


@dataclass(frozen=True)
class ChartSource:
    """One chart the stack installs: the config key holding its version, and where Helm fetches it."""

    key: str
    repository: str
    chart: str
    version: str


def chart_sources(plan: Plan) -> list[ChartSource]:
    """The charts this stack installs, each once, with the version its config asks for."""
    return list(dict.fromkeys(ChartSource(r.version_key, r.repository, r.chart, r.version) for r in plan.releases))


def _chart_version_order(text: str) -> tuple[int, int, int, int, str] | None:
    """SemVer order, a pre-release below its release; None for a version that is not SemVer."""
    match = _CHART_VERSION.match(text)
    if not match:
        return None
    major, minor, patch, prerelease = match.groups()
    return int(major), int(minor), int(patch), 0 if prerelease else 1, prerelease or ""


def _newest(versions: Iterable[str], like: str) -> str:
    """The newest releases of `like`'s minor (or the newest overall), for a message."""
    releases = sorted(
        (order, version)
        for version in versions
        if (order := _chart_version_order(version)) is not None and order[3] == 1
    )
    if not releases:
        return "it lists no release"
    major, minor = like.split(".")[:2]
    same_minor = [item for item in releases if item[0][:2] == (int(major), int(minor))]
    scope = f"the newest {major}.{minor}.x releases" if same_minor else "the newest releases"
    newest = [version for _, version in reversed(same_minor or releases)][:SUGGESTED_VERSIONS]
    return f"{scope} there are {', '.join(newest)}"


def _who_asked_for(key: str, version: str) -> str:
    """Who asked for a version: a config key holding it (metallbVersion,
    istioVersion), or a version the plan pins for a config key (the addons)."""
    if key.endswith("Version"):
        return f"{PROJECT}:{key} = {version!r}"
    return f"version {version!r}, which local-mesh pins for {PROJECT}:{key},"


def index_problems(index_text: str, url: str, sources: list[ChartSource]) -> list[str]:
    """Each wanted chart version that the repository index at `url` does not list; one line per
    config value. The index is Helm's repository index (helm.sh/helm pkg/repo/index.go, IndexFile):
    `apiVersion: v1` and `entries`, a map of chart name to its versions, each an entry with the
    chart's metadata (`version`) and `urls`."""
    try:
        # Istio's repository lists every version it ever published (shared/upstream
        # README): libyaml's parser, where PyYAML has it, reads that index faster.
        index = yaml.load(index_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as problem:
        return [f"{url} is not a Helm repository index (not YAML: {str(problem).splitlines()[0]})"]
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        return [f"{url} is not a Helm repository index (no `entries`)"]
    published = {
        chart: [str(entry["version"]) for entry in entries if isinstance(entry, dict) and "version" in entry]
        for chart, entries in index["entries"].items()
        if isinstance(entries, list)
    }
    problems: list[str] = []
    missing: dict[tuple[str, str], list[str]] = {}
    for source in sources:
        if source.chart not in published:
            problems.append(
                f"{_who_asked_for(source.key, source.version)}: {url} lists no chart named {source.chart!r}"
            )
        elif source.version not in published[source.chart]:
            missing.setdefault((source.key, source.version), []).append(source.chart)
    for (key, version), charts in missing.items():
        # Versions every chart lacking this one has: any of them works for all.
        common = set.intersection(*(set(published[chart]) for chart in charts))
        problems.append(
            f"{_who_asked_for(key, version)} is not published for {', '.join(charts)} in {url}: "
            f"{_newest(common, version)}"
        )
    return problems


def index_url(repository: str) -> str:
    return f"{repository.rstrip('/')}/index.yaml"


def published_chart_problems(sources: list[ChartSource]) -> list[str]:
    """Read each repository's index once and check every chart version wanted from it."""
    by_repository: dict[str, list[ChartSource]] = {}
    for source in sources:
        by_repository.setdefault(source.repository, []).append(source)
    problems: list[str] = []
    for repository, wanted in by_repository.items():
        url = index_url(repository)
        try:
            index_text = download.download_text(url)
        except download.DownloadError as problem:
            keys = " and ".join(f"{PROJECT}:{key}" for key in dict.fromkeys(source.key for source in wanted))
            problems.append(
                f"cannot read the chart index {url} ({problem}), so {keys} cannot be checked: "
                "check the network and try again"
            )
            continue
        problems.extend(index_problems(index_text, url, wanted))
    return problems
