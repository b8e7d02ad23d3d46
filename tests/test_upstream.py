"""The upstream reference data matches what the program installs, and every
`minikube start` flag the scripts use exists in minikube's real flag list.

The charts themselves are rendered in tests/test_render.py and every object
validated in tests/test_schemas.py.
"""

from __future__ import annotations

import re

from components.model.parts.grafana import GRAFANA_REPOSITORY, GRAFANA_VERSION
from components.model.parts.istio import GATEWAY_API_CRDS_URL, GATEWAY_API_VERSION, ISTIO_REPOSITORY
from components.model.parts.kiali import KIALI_REPOSITORY
from components.model.parts.metallb import METALLB_REPOSITORY
from components.model.parts.prometheus import PROMETHEUS_REPOSITORY
from components.shell import SCRIPTS
from harness.config import project_defaults
from harness.world import ADDONS_DATA, GATEWAY_API_DATA, ISTIO_DATA, METALLB_DATA, MINIKUBE_DATA, upstream


def start_flags_used(text: str) -> set[str]:
    """The long flags of every `minikube start` in a script, continuation lines included."""
    invocations = re.findall(r"minikube start(?:[^\n]*\\\n)*[^\n]*", text)
    return {flag for invocation in invocations for flag in re.findall(r"--([a-z][a-z-]*)", invocation)}


def known_start_flags() -> set[str]:
    lines = upstream(f"{MINIKUBE_DATA}/start-flags.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def test_reference_data_matches_the_default_versions() -> None:
    defaults = project_defaults()
    istio_minor = ".".join(defaults["istioVersion"].split(".")[:2])
    assert ISTIO_DATA.startswith(f"istio-{istio_minor}."), "new Istio minor: refresh shared/upstream"
    assert f"metallb-{defaults['metallbVersion']}" == METALLB_DATA


def test_minikube_start_uses_only_flags_minikube_accepts() -> None:
    used = {script.name: start_flags_used(script.read_text()) for script in sorted(SCRIPTS.glob("*.sh"))}
    assert {"profile", "driver", "cpus", "memory", "kubernetes-version", "keep-context"} <= used["cluster-create.sh"]
    assert {"profile", "keep-context"} <= used["cluster-access.sh"]
    for flags in used.values():
        assert flags - known_start_flags() == set()


def test_a_misspelled_start_flag_is_caught() -> None:
    script = (SCRIPTS / "cluster-create.sh").read_text().replace("--kubernetes-version", "--kubernetes-verison")
    assert start_flags_used(script) - known_start_flags() == {"kubernetes-verison"}


def published_at(artifact: str) -> str:
    """The row of shared/upstream/README.md's table of where each artifact is published."""
    text = upstream("README.md").read_text()
    table = text.split("## Where the real artifacts are published", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in table.splitlines() if line.startswith(f"| {artifact}")]
    return row


def test_charts_come_from_where_their_projects_publish_them() -> None:
    assert f"`{ISTIO_REPOSITORY}`" in published_at("Istio Helm charts")
    assert f"`{METALLB_REPOSITORY}`" in published_at("MetalLB chart")


def stored_at(folder: str) -> str:
    """The row of shared/upstream/README.md's table of what each folder holds and where it comes from."""
    text = upstream("README.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith(f"| `{folder}/`")]
    return row


def test_the_dashboards_charts_come_from_where_they_are_published_now() -> None:
    row = stored_at(ADDONS_DATA)
    assert f"`{KIALI_REPOSITORY}`" in row
    assert f"`{PROMETHEUS_REPOSITORY}`" in row
    # grafana/helm-charts deprecated and removed its grafana chart (#4107, #4113).
    assert f"`grafana` {GRAFANA_VERSION} (published now at `{GRAFANA_REPOSITORY}`" in row


def test_ambient_gets_the_gateway_api_crds_istio_is_built_against() -> None:
    assert f"gateway-api-{GATEWAY_API_VERSION}" == GATEWAY_API_DATA
    assert f"`{GATEWAY_API_CRDS_URL}`" in published_at("Gateway API CRDs")
