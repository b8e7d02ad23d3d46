"""The critical path bench/ reports, computed from the declared dependencies
(no timing here: timings live in bench/, never in tests)."""

from __future__ import annotations

from pathlib import Path

from bench.run import critical_path
from tests.harness import run_program


def test_critical_path_is_cluster_base_istiod_ingress_with_metallb_beside_it(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path, {"sample": False})
    assert [step.name for step in critical_path(run)] == ["minikube", "istio-base", "istiod", "istio-ingressgateway"]


def test_the_sample_waits_at_the_end_of_the_path(tmp_path: Path) -> None:
    run = run_program("dev", tmp_path)
    assert [step.name for step in critical_path(run)][-2:] == ["istio-ingressgateway", "httpbin"]
