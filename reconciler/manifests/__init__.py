"""Manifests under specs/: finding, parsing and checking them into the desired state."""

from reconciler.manifests.load import LoadResult, Manifest, load_specs

__all__ = ["LoadResult", "Manifest", "load_specs"]
