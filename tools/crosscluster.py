"""`make verify` of a stack of several clusters (`clusters` > 1): the checks
that prove one mesh spans them, from the stack's `clusters` output alone.

- Each cluster's ingress, asked for /hello a bounded number of times, is
  answered by every helloworld version the mesh serves: its own cluster's and
  one only another cluster serves (components/model/parts/helloworld.py).
- Each cluster's east-west gateway accepts connections on its cross-network
  port, at the address the other clusters are given for it.
- The first cluster's Prometheus (the others federated into it) counts
  requests to helloworld that crossed from each cluster into another, all of
  them over mutual TLS.

In a multi-network mesh, "service workloads across cluster boundaries
communicate indirectly, via dedicated gateways for east-west traffic" (Istio
docs, Install Multi-Primary on different networks): a request served in
another cluster has passed through that cluster's east-west gateway. Istio's
metrics do not show the gateway as a hop (it passes the TLS stream through
unopened), so the gateway's own check is that it listens where it is announced.
"""

from __future__ import annotations

import collections
import functools
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from components.model.multicluster import CROSS_NETWORK_PORT
from components.model.parts.helloworld import HELLOWORLD_PATH, helloworld_version, served_versions
from tools.verify import COMING_BACK_ERRNOS, TIMEOUT_SECONDS, NotYetError, _get_json, _http_get

# What `verify`'s `run` does with a check: name, probe, deadline, reason to skip.
Run = Callable[[str, Callable[[], tuple[bool, str]], float, str | None], bool]

# Requests sent to one ingress before it counts as not reaching every version:
# with two versions balanced evenly, 20 answers from one alone happen by chance
# about twice in a million runs.
HELLO_REQUESTS = 20
# istio/istio samples/helloworld/src/app.py (tag 1.31.0-rc.0):
# 'Hello version: %s, instance: %s\n' % (SERVICE_VERSION, HOSTNAME).
HELLO_ANSWER = re.compile(r"Hello version: (?P<version>[^,\s]+), instance: (?P<instance>\S+)")
# Requests to helloworld as the destination's proxy counts them: only the
# destination's report says whether the connection was mutual TLS
# (`connection_security_policy` "mutual_tls"; a source's report says "unknown"),
# and source_cluster / destination_cluster carry global.multiCluster.clusterName
# (Istio docs, Istio Standard Metrics, Labels).
CROSSING_REQUESTS_QUERY = (
    "sum by (source_cluster, destination_cluster, connection_security_policy)"
    ' (istio_requests_total{reporter="destination", destination_service_name="helloworld"})'
)
MUTUAL_TLS = "mutual_tls"
NO_PROMETHEUS = "this stack has no Prometheus route (observability none, or dashboardRoutes false)"
NO_HELLO_TRAFFIC = "no cluster's /hello reached helloworld"


def parse_hello(body: bytes) -> str | None:
    """The version in a helloworld answer, or None for any other body."""
    match = HELLO_ANSWER.fullmatch(body.decode(errors="replace").strip())
    return match["version"] if match else None


def hello_reaches_every_version(url: str, served_by: Mapping[str, Sequence[str]]) -> tuple[bool, str]:
    """Up to HELLO_REQUESTS GETs of `url`, until every version of `served_by`
    (version -> the clusters serving it) has answered. An answer that is not
    helloworld's fails at once; a version never heard from is waited for (the
    other cluster's endpoints reach istiod a little after it starts)."""
    heard: collections.Counter[str] = collections.Counter()
    for _ in range(HELLO_REQUESTS):
        answer = _http_get(url)
        version = parse_hello(answer.body) if answer.status == 200 else None
        if version is None:
            return False, f"GET {url} -> {answer.status}, not helloworld's answer: {answer.body[:60]!r}"
        heard[version] += 1
        if heard.keys() >= served_by.keys():
            break
    answers = ", ".join(f"{version} x{count}" for version, count in sorted(heard.items()))
    missing = sorted(served_by.keys() - heard.keys())
    if missing:
        never = ", ".join(f"{version} (served by {' and '.join(served_by[version])})" for version in missing)
        raise NotYetError(f"{sum(heard.values())} requests to {url} answered {answers}; never {never}")
    return True, f"{sum(heard.values())} requests to {url}: {answers}"


def east_west_listens(address: str) -> tuple[bool, str]:
    """A TCP connection to the east-west gateway's cross-network port (the one
    its Gateway `cross-network-gateway` serves: components/model/multicluster.py)."""
    try:
        with socket.create_connection((address, CROSS_NETWORK_PORT), timeout=TIMEOUT_SECONDS):
            pass
    except OSError as error:
        if error.errno in COMING_BACK_ERRNOS:
            raise NotYetError(f"{address}:{CROSS_NETWORK_PORT}: {error.strerror or error}") from error
        raise
    return True, f"{address}:{CROSS_NETWORK_PORT} accepts connections"


def crossing_requests(result: Sequence[Mapping[str, Any]], clusters: Sequence[str]) -> tuple[bool, str]:
    """Prometheus's series of CROSSING_REQUESTS_QUERY, judged: every request
    that crossed clusters was mutual TLS, and each cluster sent some."""
    crossed: dict[tuple[str, str, str], float] = {}
    for series in result:
        labels = series.get("metric", {})
        source, destination = labels.get("source_cluster", ""), labels.get("destination_cluster", "")
        count = float(series["value"][1])
        if source != destination and count > 0:
            policy = labels.get("connection_security_policy", "")
            crossed[(source, destination, policy)] = crossed.get((source, destination, policy), 0) + count
    plain = [(key, count) for key, count in crossed.items() if key[2] != MUTUAL_TLS]
    if plain:
        (source, destination, policy), count = plain[0]
        return False, (
            f"{count:g} requests from {source} to {destination} arrived without mutual TLS"
            f" (connection_security_policy={policy or '(none)'})"
        )
    silent = [name for name in clusters if not any(key[0] == name for key in crossed)]
    if silent:
        raise NotYetError(f"no mutual TLS request from {' or '.join(silent)} to another cluster in Prometheus")
    counted = ", ".join(f"{s} -> {d} {count:g}" for (s, d, _), count in sorted(crossed.items()))
    return True, f"mutual TLS across clusters: {counted}"


def prometheus_counts_crossings(url: str, clusters: Sequence[str]) -> tuple[bool, str]:
    # GET /api/v1/query (prometheus.io, HTTP API, Instant queries), under the route prefix.
    status, body = _get_json(url + "api/v1/query?" + urlencode({"query": CROSSING_REQUESTS_QUERY}))
    result = ((body or {}).get("data") or {}).get("result") if isinstance(body, dict) else None
    if status != 200 or not isinstance(result, list):
        return False, f"query -> {status}, not a Prometheus answer"
    return crossing_requests(result, clusters)


def run_cross_cluster_checks(outputs: Mapping[str, Any], run: Run, mesh_deadline: float, telemetry_wait: float) -> None:
    """The checks of a stack of several clusters, each handed to `run`."""
    clusters = list(outputs["clusters"])
    names = [str(cluster["name"]) for cluster in clusters]
    served_by: dict[str, list[str]] = {version: [] for version in sorted(served_versions(len(clusters)))}
    for index, name in enumerate(names):
        served_by[helloworld_version(index)].append(name)
    reached = False
    for cluster in clusters:
        url = f"http://{cluster['ingressAddress']}{HELLOWORLD_PATH}"
        probe = functools.partial(hello_reaches_every_version, url, served_by)
        reached |= run(f"{cluster['name']}: /hello reaches {' and '.join(served_by)}", probe, mesh_deadline, None)
    for cluster in clusters:
        address = cluster.get("eastWestAddress")
        run(
            f"{cluster['name']}: east-west gateway listens",
            functools.partial(east_west_listens, str(address)),
            mesh_deadline,
            None if address else "the stack gives no eastWestAddress for this cluster",
        )
    prometheus = outputs.get("prometheusUrl")
    telemetry_deadline = time.monotonic() + telemetry_wait
    run(
        "mTLS across clusters (Prometheus)",
        lambda: prometheus_counts_crossings(str(prometheus), names),
        telemetry_deadline,
        NO_PROMETHEUS if prometheus is None else None if reached else NO_HELLO_TRAFFIC,
    )
