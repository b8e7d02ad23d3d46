"""Istio's Grafana dashboards, read once on the host: from where Istio publishes
them for the stack's version, through the user's proxy, within a time limit,
and with one clear line (before anything is created) when they cannot be read.
A loopback server stands in for raw.githubusercontent.com."""

from __future__ import annotations

import http.server
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest
import yaml

from components.checks import download
from components.checks.dashboards import (
    CONFIGMAP_LIMIT_BYTES,
    ISTIO_GRAFANA_SAMPLE,
    DashboardsUnavailableError,
    dashboard_configmaps,
    dashboards_cache_name,
    read_istio_dashboards,
)
from components.model.parts.grafana import GRAFANA_DASHBOARD_CONFIGMAPS
from harness.program import ProgramFailedError, run_program
from harness.servers import closed_loopback_url, serve_directory, serve_loopback
from harness.world import ISTIO_ADDONS_DATA, ISTIO_GRAFANA_YAML, mirror_path, mirrored_reader, upstream
from tests.conftest import SharedRun

VERSION = "1.31.1"
WHERE = mirror_path(ISTIO_GRAFANA_SAMPLE.format(version=VERSION))


def publish(folder: Path, text: str) -> None:
    path = folder / WHERE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def refusal(problem: pytest.ExceptionInfo[DashboardsUnavailableError]) -> str:
    message = str(problem.value)
    assert "\n" not in message
    assert f"Istio {VERSION}'s Grafana dashboards" in message
    assert message.endswith("or set local-mesh:observability to kiali or none")
    return message


def test_every_dashboard_istio_publishes_reaches_a_configmap_within_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_directory(tmp_path) as (url, folder, requests):
        publish(folder, upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        dashboards = read_istio_dashboards(VERSION)
    assert requests == [f"/{WHERE}"]
    assert f"raw.githubusercontent.com/istio/istio/{VERSION}/samples/addons/grafana.yaml" == WHERE
    assert set(dashboards) == set(GRAFANA_DASHBOARD_CONFIGMAPS.values())
    for data in dashboards.values():
        assert sum(len(text.encode()) for text in data.values()) <= CONFIGMAP_LIMIT_BYTES
    # The same dashboards as Istio's source JSON of that release, each once.
    shipped = [json.loads(text)["title"] for data in dashboards.values() for text in data.values()]
    sources = upstream(f"{ISTIO_ADDONS_DATA}/manifests-addons/dashboards").glob("*.json")
    assert sorted(shipped) == sorted(json.loads(source.read_text())["title"] for source in sources)


def test_a_refused_connection_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "download_text", mirrored_reader(closed_loopback_url()))
    with pytest.raises(DashboardsUnavailableError) as problem:
        read_istio_dashboards(VERSION)
    assert "Connection refused" in refusal(problem)


def test_a_version_istio_does_not_publish_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_directory(tmp_path) as (url, _, _):
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        with pytest.raises(DashboardsUnavailableError) as problem:
            read_istio_dashboards(VERSION)
    assert "(HTTP 404 File not found)" in refusal(problem)


class _Silent(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.5)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_that_does_not_answer_gives_up_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_loopback(_Silent) as url:
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        started = time.monotonic()
        with pytest.raises(DashboardsUnavailableError) as problem:
            read_istio_dashboards(VERSION, timeout=0.1)
        assert time.monotonic() - started < 0.4
    assert "(no answer within 0.1 s)" in refusal(problem)


def test_the_download_goes_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    manifest = upstream(ISTIO_GRAFANA_YAML).read_bytes()

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)  # a proxy is asked for the absolute URL
            self.send_response(200)
            self.send_header("Content-Length", str(len(manifest)))
            self.end_headers()
            self.wfile.write(manifest)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_loopback(Proxy) as proxy:
        # A host that does not resolve: only the proxy can answer for it.
        monkeypatch.setattr(download, "download_text", mirrored_reader("http://mirror.invalid"))
        for variable in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("http_proxy", proxy)
        assert set(read_istio_dashboards(VERSION)) == set(GRAFANA_DASHBOARD_CONFIGMAPS.values())
    assert asked == [f"http://mirror.invalid/{WHERE}"]


def configmap(name: str, data: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_a_file_without_istios_dashboards_or_over_the_size_limit_is_refused() -> None:
    url = "http://mirror/grafana.yaml"
    (first, second) = GRAFANA_DASHBOARD_CONFIGMAPS.values()
    with pytest.raises(DashboardsUnavailableError) as problem:
        dashboard_configmaps(yaml.safe_dump(configmap(first, {"a.json": "{}"})), VERSION, url)
    assert f"(it holds no ConfigMap {second} with dashboards)" in refusal(problem)
    huge = {"a.json": "x" * CONFIGMAP_LIMIT_BYTES, "b.json": "{}"}
    manifest = yaml.safe_dump_all([configmap(first, huge), configmap(second, {"c.json": "{}"})])
    with pytest.raises(DashboardsUnavailableError) as problem:
        dashboard_configmaps(manifest, VERSION, url)
    assert f"(ConfigMap {first} holds {CONFIGMAP_LIMIT_BYTES + 2} bytes, over Kubernetes' 1 MiB)" in refusal(problem)


# --- the host's cache of each release's dashboards ----------------------------


def cached_file(cache: Path) -> Path:
    return cache / "local-mesh" / dashboards_cache_name(VERSION)


def test_the_first_read_caches_and_the_next_one_needs_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    with serve_directory(tmp_path / "mirror") as (url, folder, requests):
        publish(folder, upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        # Even where the umask takes nothing away, no one else may write the cache.
        umask = os.umask(0)
        try:
            downloaded = read_istio_dashboards(VERSION)
        finally:
            os.umask(umask)
        assert requests == [f"/{WHERE}"]
        # The cached copy is preferred: a release's dashboards never change.
        assert read_istio_dashboards(VERSION) == downloaded
        assert requests == [f"/{WHERE}"]
    assert json.loads(cached_file(cache).read_text()) == downloaded
    for folder in (cache, cache / "local-mesh", cached_file(cache).parent):
        assert not folder.stat().st_mode & (stat.S_IWOTH | stat.S_IWGRP), folder
    assert not cached_file(cache).stat().st_mode & stat.S_IWOTH
    # Offline, with the mirror gone: the cache alone.
    monkeypatch.setattr(download, "download_text", mirrored_reader(closed_loopback_url()))
    assert read_istio_dashboards(VERSION) == downloaded
    # Only the complete file is ever in place: no partial file is left beside it.
    assert [path.name for path in cached_file(cache).parent.iterdir()] == [cached_file(cache).name]


def first_dashboard_cut_short(text: str) -> str:
    dashboards = json.loads(text)
    data = next(iter(dashboards.values()))
    first = next(iter(data))
    data[first] = data[first][: len(data[first]) // 2]
    return json.dumps(dashboards)


def without_a_configmap(text: str) -> str:
    dashboards = json.loads(text)
    dashboards.pop(next(iter(dashboards)))
    return json.dumps(dashboards)


@pytest.mark.parametrize(
    "spoil",
    [lambda text: text[: len(text) // 2], first_dashboard_cut_short, without_a_configmap, lambda _: "[]"],
    ids=["file-cut-short", "dashboard-cut-short", "configmap-missing", "not-the-shape"],
)
def test_a_broken_cache_is_ignored_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spoil: Callable[[str], str]
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    with serve_directory(tmp_path / "mirror") as (url, folder, requests):
        publish(folder, upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        downloaded = read_istio_dashboards(VERSION)
        whole = cached_file(cache).read_text()
        cached_file(cache).write_text(spoil(whole))
        monkeypatch.setattr(download, "download_text", mirrored_reader(closed_loopback_url()))
        with pytest.raises(DashboardsUnavailableError) as problem:
            read_istio_dashboards(VERSION)
        message = refusal(problem)
        assert "Connection refused" in message
        assert f") and none are cached in {cache / 'local-mesh'}: check the network" in message
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        assert read_istio_dashboards(VERSION) == downloaded
        assert len(requests) == 2
    assert cached_file(cache).read_text() == whole


def test_a_cache_file_others_may_write_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    with serve_directory(tmp_path / "mirror") as (url, folder, requests):
        publish(folder, upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        read_istio_dashboards(VERSION)
        os.chmod(cached_file(cache), 0o666)
        read_istio_dashboards(VERSION)
        assert len(requests) == 2


def test_a_cache_that_cannot_be_written_is_a_warning_and_the_dashboards_still_arrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where pulumi.log writes depends on whether a program ran before in this
    # process (the engine's log, or stderr): the line itself is what is checked.
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with serve_directory(tmp_path / "mirror") as (url, folder, _):
        publish(folder, upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        assert set(read_istio_dashboards(VERSION)) == set(GRAFANA_DASHBOARD_CONFIGMAPS.values())
    (warning,) = warnings
    assert warning.startswith(f"cannot keep Istio {VERSION}'s Grafana dashboards in {blocked / 'local-mesh'} (")
    assert warning.endswith("): each preview and up downloads them again, and fails offline")


@pytest.mark.parametrize(
    ("environment", "platform", "expected"),
    [
        ({"XDG_CACHE_HOME": "/srv/cache"}, "linux", "/srv/cache/local-mesh"),
        ({"XDG_CACHE_HOME": "/srv/cache"}, "darwin", "/srv/cache/local-mesh"),
        ({"XDG_CACHE_HOME": "relative/cache"}, "linux", "/home/u/.cache/local-mesh"),
        ({}, "linux", "/home/u/.cache/local-mesh"),
        ({"XDG_CACHE_HOME": ""}, "darwin", "/home/u/Library/Caches/local-mesh"),
        ({}, "darwin", "/home/u/Library/Caches/local-mesh"),
    ],
)
def test_the_cache_folder_follows_one_rule(environment: dict[str, str], platform: str, expected: str) -> None:
    assert download.user_cache_dir(environment, platform, Path("/home/u")) == Path(expected)


def test_offline_with_the_release_cached_the_program_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback mirror publishes no dashboards of 1.31.0; the machine's cache has them."""
    machine = tmp_path / "machine"
    monkeypatch.setenv("XDG_CACHE_HOME", str(machine / "cache"))
    with serve_directory(tmp_path / "mirror") as (url, folder, _):
        path = folder / mirror_path(ISTIO_GRAFANA_SAMPLE.format(version="1.31.0"))
        path.parent.mkdir(parents=True)
        path.write_text(upstream(ISTIO_GRAFANA_YAML).read_text())
        monkeypatch.setattr(download, "download_text", mirrored_reader(url))
        cached = read_istio_dashboards("1.31.0")
    run = run_program("dev", machine, {"preflight": False, "istioVersion": "1.31.0"})
    created = {r.inputs["metadata"]["name"]: r.inputs["data"] for r in run.of_type("kubernetes:core/v1:ConfigMap")}
    assert {name: created[name] for name in cached} == cached


def test_offline_the_program_stops_before_creating_anything(tmp_path: Path) -> None:
    """The loopback mirror publishes the dashboards of the default istioVersion
    only; pre-flight (which would read the chart index) is off."""
    with pytest.raises(ProgramFailedError) as failure:
        run_program("dev", tmp_path, {"preflight": False, "istioVersion": "1.31.0"})
    assert isinstance(failure.value.cause, DashboardsUnavailableError)
    assert "cannot read Istio 1.31.0's Grafana dashboards" in str(failure.value)
    assert failure.value.registrations == []


def test_without_grafana_nothing_is_downloaded(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path, {"preflight": False, "istioVersion": "1.31.0", "observability": "kiali"})
    config_maps = [r.name for r in run.registrations if r.type == "kubernetes:core/v1:ConfigMap"]
    # The one ConfigMap left is the local registry's advertisement (imageCache).
    assert config_maps == ["local-registry-hosting"]


def test_grafana_waits_for_the_configmaps_it_mounts_holding_istios_dashboards(shared_run: SharedRun) -> None:
    run = shared_run()
    grafana = run.releases()["grafana"]
    mounted = set(grafana.inputs["values"]["dashboardsConfigMaps"].values())
    created = {r.inputs["metadata"]["name"]: r for r in run.of_type("kubernetes:core/v1:ConfigMap")}
    istio = {
        item["metadata"]["name"]: item["data"]
        for item in yaml.safe_load_all(upstream(ISTIO_GRAFANA_YAML).read_text())
        if item and item["kind"] == "ConfigMap" and item["metadata"]["name"] in mounted
    }
    assert {name: created[name].inputs["data"] for name in mounted} == istio
    for name in mounted:
        assert created[name].inputs["metadata"]["namespace"] == grafana.inputs["namespace"]
        assert run.depends_on(grafana, created[name]), name
