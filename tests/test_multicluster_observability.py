"""Kiali and Prometheus of a multicluster mesh (issue 21): the first cluster's
Kiali mounts a secret per remote cluster, each remote cluster keeps a
read-only account with a token for it, and the first Prometheus federates the
others; rendered with the real kiali-server 2.27.0 and prometheus 28.13.0
charts and validated against Kubernetes' schemas."""

from __future__ import annotations

import base64

import pytest
import yaml

from components.model.parts.istio import ISTIO_NAMESPACE
from components.model.parts.kiali_multicluster import (
    kiali_remote_cluster_secret,
    kiali_remote_secret_name,
    kiali_token_secret,
    kiali_values_with_remote_clusters,
)
from components.model.parts.prometheus import PROMETHEUS_PATH, prometheus_values_federating
from components.model.plan import Plan, release_plan
from harness.config import settings_for
from tests.upstream import Object, render, schema_problems

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n").decode()


@pytest.fixture(scope="module")
def plan() -> Plan:
    return release_plan(settings_for("demo", "lean", observability="full"))


def one(objects: list[Object], kind: str, name: str) -> Object:
    (found,) = [item for item in objects if item["kind"] == kind and item["metadata"]["name"] == name]
    return found


def test_the_first_kiali_mounts_one_secret_per_remote_cluster_where_kiali_reads_them(plan: Plan) -> None:
    release = plan.release("kiali")
    objects = render(release, kiali_values_with_remote_clusters(release.values, ["cluster2", "cluster3"]))
    assert [problem for item in objects for problem in schema_problems(item)] == []
    pod = one(objects, "Deployment", "kiali")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    for cluster in ("cluster2", "cluster3"):
        # Not optional: Kiali starts only once it can read the cluster.
        assert secrets[cluster] == {"secretName": kiali_remote_secret_name(cluster)}
        assert mounts[cluster] == f"/kiali-remote-cluster-secrets/{kiali_remote_secret_name(cluster)}"
    names = [volume["name"] for volume in pod["volumes"]]
    assert len(names) == len(set(names))
    config = yaml.safe_load(one(objects, "ConfigMap", "kiali")["data"]["config.yaml"])
    assert config["clustering"]["autodetect_secrets"]["enabled"] is False
    # One cluster's stack mounts none (the chart's own optional secret aside).
    alone = one(render(release), "Deployment", "kiali")["spec"]["template"]["spec"]["volumes"]
    assert not {"cluster2", "cluster3"} & {volume["name"] for volume in alone}


def test_the_remote_token_is_the_kiali_accounts_as_kiali_installs_it(plan: Plan) -> None:
    token = kiali_token_secret()
    assert schema_problems(token) == []
    accounts = [item["metadata"]["name"] for item in render(plan.release("kiali")) if item["kind"] == "ServiceAccount"]
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] in accounts
    assert token["metadata"]["namespace"] == ISTIO_NAMESPACE


def test_the_remote_cluster_secret_holds_a_kubeconfig_named_after_the_cluster() -> None:
    secret = kiali_remote_cluster_secret("cluster2", "https://192.168.49.3:8443", CA, "a-token")
    assert schema_problems(secret) == []
    assert secret["metadata"]["name"] == kiali_remote_secret_name("cluster2")
    assert secret["metadata"]["labels"] == {"kiali.io/multiCluster": "true"}
    assert secret["metadata"]["annotations"] == {"kiali.io/cluster": "cluster2"}
    (key,) = secret["stringData"]
    assert key == "cluster2"  # the file Kiali reads is named after the cluster
    config = yaml.safe_load(secret["stringData"][key])
    assert config["current-context"] == "cluster2"
    (context,) = config["contexts"]
    (cluster,) = config["clusters"]
    (user,) = config["users"]
    assert context["context"] == {"cluster": cluster["name"], "user": user["name"]}
    assert cluster["cluster"] == {"server": "https://192.168.49.3:8443", "certificate-authority-data": CA}
    assert user["user"] == {"token": "a-token"}


def test_the_first_prometheus_federates_the_others_istio_metrics_through_their_ingress(plan: Plan) -> None:
    release = plan.release("prometheus")
    values = prometheus_values_federating(release.values, {"cluster2": "192.168.49.120", "cluster3": "192.168.49.140"})
    objects = render(release, values)
    assert [problem for item in objects for problem in schema_problems(item)] == []
    config = yaml.safe_load(one(objects, "ConfigMap", "prometheus")["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for cluster, address in (("cluster2", "192.168.49.120"), ("cluster3", "192.168.49.140")):
        job = jobs[f"federate-{cluster}"]
        assert job["honor_labels"] is True
        assert job["metrics_path"] == f"{PROMETHEUS_PATH}/federate"
        assert job["params"] == {"match[]": ['{__name__=~"istio_.*"}']}
        assert job["static_configs"] == [{"targets": [f"{address}:80"]}]
    # The chart's own jobs and the self-scrape under the prefix stay.
    assert jobs["prometheus"]["metrics_path"] == f"{PROMETHEUS_PATH}/metrics"
    assert "kubernetes-pods" in jobs
    alone = yaml.safe_load(one(render(release), "ConfigMap", "prometheus")["data"]["prometheus.yml"])
    assert not [job for job in alone["scrape_configs"] if job["job_name"].startswith("federate")]
