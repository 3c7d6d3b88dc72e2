"""The test cluster helper fails loudly, never skips, when no server can be had."""

from __future__ import annotations

import pytest

from reconciler.testing.postgres import ClusterUnavailable, server_bin


def test_a_bin_folder_without_initdb_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RECONCILE_TEST_PG_BIN", str(tmp_path))
    with pytest.raises(ClusterUnavailable, match=f"RECONCILE_TEST_PG_BIN={tmp_path} holds no"):
        server_bin()


def test_no_server_anywhere_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("RECONCILE_TEST_PG_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(ClusterUnavailable, match="install Debian's postgresql package"):
        server_bin()


def test_the_session_cluster_answers(pg_cluster):
    import psycopg

    with psycopg.connect(pg_cluster.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pg_cluster.dsn.startswith("host=127.0.0.1 ")
