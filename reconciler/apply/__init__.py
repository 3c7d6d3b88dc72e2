"""Applying a plan: batching, one HTTP policy (pacing, retries), and the ledger writes."""
