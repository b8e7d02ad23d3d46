"""local-mesh's building blocks: one ComponentResource per module, and the pure
logic they use (the README's Layout lists which is which)."""
