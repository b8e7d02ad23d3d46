"""local-mesh's building blocks: one ComponentResource per module (cluster,
metallb, istio) and the pure logic they use (settings, network, minikube, values)."""
