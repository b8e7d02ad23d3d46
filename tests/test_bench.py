"""The critical path bench/ reports, computed from the declared dependencies
(no timing here: timings live in bench/, never in tests)."""

from __future__ import annotations

import pytest

from bench.run import critical_path
from tests.conftest import SharedRun


@pytest.mark.parametrize("sample", [True, False])
def test_critical_path_is_cluster_base_istiod_ingress_with_metallb_and_the_sample_beside_it(
    shared_run: SharedRun, sample: bool
) -> None:
    run = shared_run(sample=sample)
    assert [step.name for step in critical_path(run)] == ["minikube", "istio-base", "istiod", "istio-ingressgateway"]
