"""Refresh: reading the vendors back, so the ledger knows what is really gone.

Confirms what was queued (accepted -> done, evidence `confirmed`), catches what came back
(-> drifted, sent again by the next apply), and never changes a state on an answer that
proves nothing (unverified, counted).
"""
