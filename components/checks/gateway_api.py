"""The Gateway API CRDs check: ambient installs them during up from the
release's URL, so pre-flight downloads them first (through the one download
door, components/checks/download.py) and checks that the answer holds them."""

from __future__ import annotations

import yaml

from components.checks import download
from components.checks.discovery import BUNDLE_VERSION_ANNOTATION
from components.model.parts.istio import GATEWAY_API_CRDS_URL, GATEWAY_API_VERSION
from components.model.plan import Plan
from components.model.settings import PROJECT


def holds_gateway_api_crds(text: str, version: str) -> bool:
    """Whether a download is the Gateway API CRDs of this release: YAML
    documents, CustomResourceDefinitions among them, each carrying its bundle
    version (gateway-api config/crd/standard/*.yaml, metadata.annotations)."""
    try:
        documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError:
        return False
    crds = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"]
    return bool(crds) and all(
        ((crd.get("metadata") or {}).get("annotations") or {}).get(BUNDLE_VERSION_ANNOTATION) == version for crd in crds
    )


def gateway_api_download_problems(plan: Plan, url: str = GATEWAY_API_CRDS_URL) -> list[str]:
    """The Gateway API CRDs the plan installs (ambient, where the cluster has
    none) are fetched from `url` during up: reachable from here, through the
    proxy the environment names (urllib reads http_proxy/https_proxy/no_proxy),
    within the time limit, and holding the release the plan pins."""
    if not plan.installs_gateway_api_crds:
        return []
    why = f"which {PROJECT}:istioProfile ambient installs during up"
    try:
        text = download.download_text(url)
    except download.DownloadError as problem:
        return [
            f"cannot download the Gateway API CRDs {url} ({problem}), {why}: "
            "check the network (and HTTPS_PROXY behind a proxy) and try again"
        ]
    if not holds_gateway_api_crds(text, GATEWAY_API_VERSION):
        return [
            f"{url} does not hold the Gateway API {GATEWAY_API_VERSION} CRDs, {why} "
            "(a proxy's or portal's page instead?): check the network and try again"
        ]
    return []
