"""Pre-flight checks, run before any resource is registered, so that even
`pulumi preview` fails fast with one line per problem and its fix: the host
(host.py), a fixed loopback port (local_port.py), the host registries' names and
push port (host_registries.py), an existing cluster (cluster.py), the chart
indexes (charts.py) and the Gateway API CRDs' download (gateway_api.py). `run_preflight` joins
them for __main__.py.
"""

from __future__ import annotations

import pulumi

from components.checks.charts import chart_sources, published_chart_problems
from components.checks.cluster import cluster_problems, gather_cluster_facts, gather_host_networks, pool_note
from components.checks.gateway_api import gateway_api_download_problems
from components.checks.host import find_problems, gather_facts
from components.checks.host_registries import check_host_registries
from components.checks.local_port import fixed_local_port, gather_local_port_facts, local_port_problems
from components.model.plan import Plan
from components.model.settings import PROJECT, Settings


class PreflightError(pulumi.RunError):
    """One line per problem, each with its fix; a RunError, so the CLI shows
    these lines alone, without a traceback (see settings.ConfigError)."""


def run_preflight(settings: Settings, plan: Plan) -> None:
    """Warn, or stop the program with every problem found, before any resource exists."""
    if not settings.preflight:
        pulumi.log.info(f"{PROJECT}: pre-flight checks skipped ({PROJECT}:preflight is false)")
        return
    errors, warnings = find_problems(settings, plan, gather_facts(settings))
    errors.extend(check_host_registries(settings))
    if not settings.on_minikube:
        cluster = gather_cluster_facts(settings.kube_context)
        host = gather_host_networks() if settings.metallb else None
        errors.extend(cluster_problems(settings, plan, cluster, host))
        note = pool_note(settings, cluster, host) if host is not None and cluster.error is None else None
        if note is not None:
            pulumi.log.info(note)
    port = fixed_local_port(settings)
    if port is not None:
        errors.extend(local_port_problems(settings, gather_local_port_facts(settings, port)))
    errors.extend(published_chart_problems(chart_sources(plan)))
    errors.extend(gateway_api_download_problems(plan))
    for warning in warnings:
        pulumi.log.warn(warning)
    if errors:
        lines = "\n".join(f"  - {error}" for error in errors)
        raise PreflightError(f"pre-flight checks failed (set {PROJECT}:preflight to false to skip them):\n{lines}")
