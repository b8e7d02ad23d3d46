"""What runs before any resource is registered: it reads the host and the
cluster the stack names, and stops the program with one line per problem.

Every process runs through `process.run_process` and every download through
`download.download_text`, the one door each (kind's pkg/exec is the same idea:
one Cmd interface, one RunError). Pre-flight (`preflight.run_preflight`) joins
the host, cluster, chart-index and Gateway API download checks; `discovery`
reads an existing cluster's platform and CRDs for the plan; `dashboards`
reads Istio's Grafana dashboards for the cluster's ConfigMaps (downloaded once,
then from the host's cache).
"""
