"""`make bench`: what a user waits for, measured (never a timed test).

On any machine: how long the program takes to evaluate under mocks (median of
several runs), and the critical path of long-running steps in the resource
graph the program declares. Where Docker, minikube, kubectl and pulumi exist:
the wall time of each stage of a real up, verify, second up and destroy (the
end-to-end test, which prints them).
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.model.footprint import total
from components.model.parts.istio import INGRESS_RELEASE
from components.model.plan import release_plan
from components.model.settings import ISTIO_PROFILES, RESOURCE_PROFILES, parse_settings
from harness.config import raw_config as raw
from harness.kinds import COMMAND, RELEASE
from harness.machine import missing_prerequisite
from harness.program import ProgramRun, Registration, run_program

RUNS = 7
# Steps that wait on something slow: a cluster start, a Helm install with
# --wait (image pulls, readiness), a Deployment rolling out.
LONG_TYPES = (COMMAND, RELEASE, "kubernetes:apps/v1:Deployment")
# metallb-webhook-ready: a bounded poll, seconds once MetalLB is up; host-registries:
# starts or reuses four containers on the host, seconds (the first time on a
# machine after pulling Distribution's image once).
SHORT_COMMANDS = ("metallb-webhook-ready", "host-registries")
# The same mesh set up by hand (minikube's metallb addon, istioctl's demo
# profile), each step waiting for the one before.
BY_HAND_STEPS = (
    "minikube start",
    "minikube addons enable metallb",
    "minikube addons configure metallb",
    "download istioctl",
    "istioctl x precheck",
    "istioctl install --set profile=demo",
)


def evaluation_seconds() -> list[float]:
    timings = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            run_program("dev", Path(folder))
            timings.append(time.perf_counter() - started)
    return timings


def is_long(registration: Registration) -> bool:
    return registration.type in LONG_TYPES and registration.name not in SHORT_COMMANDS


def critical_path(run: ProgramRun) -> list[Registration]:
    """The longest chain of long steps that must run one after another before
    the mesh works: the longest of the chains ending at the ingress gateway
    and at the sample's Deployment."""
    by_urn = {r.urn: r for r in run.registrations}

    def upstream(registration: Registration) -> list[Registration]:
        urns = list(registration.dependencies)
        if registration.provider:
            urns.append(registration.provider.rsplit("::", 1)[0])
        return [by_urn[urn] for urn in urns if urn in by_urn]

    def length(path: tuple[Registration, ...]) -> int:
        return sum(map(is_long, path))

    @cache
    def longest(urn: str) -> tuple[Registration, ...]:
        registration = by_urn[urn]
        before = max((longest(r.urn) for r in upstream(registration)), key=length, default=())
        return (*before, registration)

    targets = [
        r
        for r in run.registrations
        if r.type == "kubernetes:apps/v1:Deployment" or (r.type == RELEASE and r.name == INGRESS_RELEASE)
    ]
    # Ties go to the ingress gateway: it is what `ingressIp` waits for.
    paths = sorted((longest(target.urn) for target in targets), key=lambda path: path[-1].name != INGRESS_RELEASE)
    return [r for r in max(paths, key=length) if is_long(r)]


def main() -> None:
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    timings = evaluation_seconds()
    print(f"\nprogram evaluation under mocks ({RUNS} runs, real scripts against the stand-in CLIs):")
    median, fastest, slowest = (value * 1000 for value in (statistics.median(timings), min(timings), max(timings)))
    print(f"  median {median:.0f} ms, min {fastest:.0f} ms, max {slowest:.0f} ms")

    with tempfile.TemporaryDirectory() as folder:
        run = run_program("dev", Path(folder))
    path = critical_path(run)
    metallb = next(r for r in run.registrations if r.name == "metallb" and r.custom)
    print("\nlong-running steps that must run one after another:")
    print(f"  {'local-mesh (critical path)':<28} {len(path)}  {' -> '.join(r.name for r in path)}")
    print(f"  {'by hand (addon + istioctl)':<28} {len(BY_HAND_STEPS)}  {' -> '.join(BY_HAND_STEPS)}")
    print(f"  MetalLB on the critical path: {'yes' if metallb in path else 'no (installs beside istio-base/istiod)'}")

    print("\nwhat the mesh requests (control plane, gateways, MetalLB, httpbin + sidecar):")
    print(f"  {'istioProfile':<14}" + "".join(f"{'resources: ' + r:<24}" for r in RESOURCE_PROFILES))
    for profile in ISTIO_PROFILES:
        cells = []
        for resources in RESOURCE_PROFILES:
            # The mesh alone, as the README's profile table shows it; the dashboards come on top.
            settings = parse_settings(raw(istioProfile=profile, resources=resources, observability="none"), "dev")
            cells.append(f"{total(settings, release_plan(settings))!s:<24}")
        print(f"  {profile:<14}" + "".join(cells))

    reason = missing_prerequisite()
    print("\nreal up / verify / second up / destroy:")
    if reason:
        print(f"  not measured here: {reason}")
        return
    subprocess.run([sys.executable, "-m", "pytest", "tests/e2e", "--run-e2e", "-s", "-q"], check=False)


if __name__ == "__main__":
    main()
