"""Jaeger all-in-one for `observability: full`: the collector Istio's `jaeger`
tracing provider sends spans to, and the UI under /jaeger. Written here, as
Istio writes its own (samples/addons/jaeger.yaml), not a chart: one pod, one
ConfigMap, three Services (components/jaeger.py makes them)."""

from __future__ import annotations

from typing import Any

from components.model.images import pulled_from
from components.model.release import Dashboard, Requests, requests_of, resources

JAEGER_PATH = "/jaeger"
# Istio's tracing provider for Jaeger, as Istio's demo profile declares it
# (istiod files/profile-demo.yaml, meshConfig.extensionProviders): OpenTelemetry
# over gRPC to Jaeger's collector.
TRACING_PROVIDER = "jaeger"
JAEGER_COLLECTOR = "jaeger-collector"
OTLP_GRPC_PORT = 4317
JAEGER_EXTENSION_PROVIDER = {
    "name": TRACING_PROVIDER,
    "opentelemetry": {"port": OTLP_GRPC_PORT, "service": f"{JAEGER_COLLECTOR}.istio-system.svc.cluster.local"},
}

# The image Istio 1.31 pins (samples/addons/jaeger.yaml).
JAEGER_IMAGE = "docker.io/jaegertracing/jaeger:2.17.0"


def jaeger_image(caches: bool) -> str:
    """Jaeger's image as the node pulls it (`caches`: through the host's cache)."""
    return pulled_from(JAEGER_IMAGE, caches)


JAEGER_LABELS = {"app": "jaeger"}
QUERY_PORT = 16686  # jaeger_query's HTTP port: the UI and its /api
HEALTH_PORT = 13133  # healthcheckv2, answering /status (Istio's jaeger.yaml probes)
OTLP_HTTP_PORT = 4318
ZIPKIN_PORT = 9411
# Traces live in memory and the oldest go once this many are kept: the memory
# backend's `max_traces` (jaegertracing/jaeger v2.17.0, internal/storage/v2/memory/config.go). A local
# mesh's traffic fits many times over; the pod's memory limit stays far above it.
MAX_TRACES = 10000
LEAN_JAEGER = resources("20m", "64Mi", "500m", "384Mi")
# Istio's jaeger.yaml requests 10m CPU and no memory.
JAEGER_DEFAULT = {"requests": {"cpu": "10m"}}


def jaeger_resources(lean: bool) -> dict[str, Any]:
    return LEAN_JAEGER if lean else JAEGER_DEFAULT


def jaeger_pods(lean: bool) -> dict[str, Requests]:
    """The Jaeger pod and its requests."""
    return {"jaeger": requests_of(jaeger_resources(lean))}


def jaeger_config() -> dict[str, Any]:
    """Jaeger v2's configuration (an OpenTelemetry Collector's): receive OTLP
    and Zipkin, keep traces in memory, serve the UI and its API under /jaeger.
    Shaped after Istio's jaeger.yaml (Jaeger's cmd/jaeger/config-*.yaml), with
    the memory backend instead of badger on an unbounded volume."""
    storage = "memory_storage"
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp", "zipkin"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
        },
        "extensions": {
            "jaeger_query": {"base_path": JAEGER_PATH, "storage": {"traces": storage}},
            "jaeger_storage": {"backends": {storage: {"memory": {"max_traces": MAX_TRACES}}}},
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                }
            },
            "zipkin": {"endpoint": f"0.0.0.0:{ZIPKIN_PORT}"},
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": storage}},
    }


# Service name -> its ports (name, port, target port). `tracing` is where Kiali,
# Grafana and the gateway find the UI; `zipkin` and `jaeger-collector` are where
# Istio's tracing providers send spans (Istio's demo profile: OpenTelemetry to
# jaeger-collector.istio-system:4317).
TRACING_SERVICE = "tracing"
TRACING_PORT = 80
JAEGER_SERVICES: dict[str, list[tuple[str, int, int]]] = {
    TRACING_SERVICE: [("http-query", TRACING_PORT, QUERY_PORT)],
    "zipkin": [("http-query", ZIPKIN_PORT, ZIPKIN_PORT)],
    JAEGER_COLLECTOR: [
        ("grpc-otel", OTLP_GRPC_PORT, OTLP_GRPC_PORT),
        ("http-otel", OTLP_HTTP_PORT, OTLP_HTTP_PORT),
        ("http-zipkin", ZIPKIN_PORT, ZIPKIN_PORT),
    ],
}
# Jaeger's query service under its base path, and its UI on the ingress.
JAEGER_QUERY_URL = f"http://{TRACING_SERVICE}.istio-system:{TRACING_PORT}{JAEGER_PATH}"
JAEGER_DASHBOARD = Dashboard("jaegerUrl", TRACING_SERVICE, TRACING_PORT, JAEGER_PATH)


# How many requests get a trace. demo: every one, what its profile promises
# (files/profile-demo.yaml pilot.traceSampling: 100) and what someone trying a
# mesh wants to see. Otherwise Istio's own default, 1% (istiod values.yaml
# pilot.traceSampling: 1.0): each sampled request costs the proxies CPU and
# Jaeger memory. `verify` forces a trace of its own requests either way.
SAMPLING_PERCENT = {"demo": 100.0, "minimal": 1.0, "ambient": 1.0}


def telemetry_spec(istio_profile: str) -> dict[str, Any]:
    """Mesh-wide (in the root namespace): every proxy reports spans to Jaeger."""
    return {
        "tracing": [
            {"providers": [{"name": TRACING_PROVIDER}], "randomSamplingPercentage": SAMPLING_PERCENT[istio_profile]}
        ]
    }
