"""Tools run beside the program: `make verify`, and the script `make up` fetches missing CLIs with."""
