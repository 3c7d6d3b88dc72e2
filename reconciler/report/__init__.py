"""Proof of erasure: the report as data (build), its seal, its renderers, its verification."""
