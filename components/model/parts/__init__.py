"""One module per part local-mesh installs: its chart and values, its pods and their requests, its route."""
