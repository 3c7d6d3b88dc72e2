"""The vendors: their one interface (api.py), the registry that finds them by entry point
(registry.py), what most share (kit.py), and the four built-in vendor packages."""
