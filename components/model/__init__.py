"""The pure model: settings, network, the parts and their footprint. No Pulumi resources, no processes."""
