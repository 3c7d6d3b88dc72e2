"""Renderers of the one plan model: text (terminal), JSON (machines), markdown (PRs)."""
