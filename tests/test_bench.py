"""The critical path bench/ reports, computed from the declared dependencies
(no timing here: timings live in bench/, never in tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import critical_path
from tests.harness import run_program


@pytest.mark.parametrize("sample", [True, False])
def test_critical_path_is_cluster_base_istiod_ingress_with_metallb_and_the_sample_beside_it(
    tmp_path: Path, sample: bool
) -> None:
    run = run_program("dev", tmp_path, {"sample": sample})
    assert [step.name for step in critical_path(run)] == ["minikube", "istio-base", "istiod", "istio-ingressgateway"]
