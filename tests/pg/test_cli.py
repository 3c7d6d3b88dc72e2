"""The postgres backend's config and commands through the real CLI: one-line errors,
the DSN never printed, the DDL and grants an administrator runs."""

from __future__ import annotations

import psycopg

from reconciler.ledger.pg.leases import list_leases
from reconciler.ledger.pg.storage import PgStorage

PG_LEDGER = """\
ledger:
  backend: postgres
  dsn_env: TEST_LEDGER_DSN
"""


def use_postgres(project, ledger: str = PG_LEDGER) -> None:
    text = (project.root / "reconciler.yaml").read_text(encoding="utf-8")
    text = text.replace("ledger:\n  path: state/ledger\n", ledger)
    (project.root / "reconciler.yaml").write_text(text, encoding="utf-8")


def test_backend_postgres_needs_dsn_env_one_line_naming_the_place(project):
    use_postgres(project, "ledger:\n  backend: postgres\n")
    result = project.run("validate")
    assert result.code == 1
    assert "reconciler.yaml:4: ledger.backend: postgres needs ledger.dsn_env" in result.err
    assert "Traceback" not in result.output


def test_postgres_only_settings_with_the_file_backend_are_refused(project):
    use_postgres(project, "ledger:\n  path: state/ledger\n  lease_seconds: 30\n")
    result = project.run("validate")
    assert result.code == 1
    assert "reconciler.yaml:5: ledger.lease_seconds: is only used with backend: postgres" in (
        result.err
    )


def test_an_unknown_backend_is_refused(project):
    use_postgres(project, "ledger:\n  backend: mysql\n")
    result = project.run("validate")
    assert result.code == 1 and "ledger.backend: must be files" in result.err


def test_an_unset_dsn_variable_is_named_and_nothing_is_read(project, monkeypatch):
    use_postgres(project)
    monkeypatch.delenv("TEST_LEDGER_DSN", raising=False)
    result = project.run("plan")
    assert result.code == 1
    assert "ledger.dsn_env names TEST_LEDGER_DSN, which is not set" in result.err


def test_an_unreachable_database_is_one_line_and_never_shows_the_password(project, monkeypatch):
    use_postgres(project)
    monkeypatch.setenv(
        "TEST_LEDGER_DSN", "postgresql://tool:pw-9f8e7d6c5b@127.0.0.1:1/ledger?connect_timeout=2"
    )
    for args in (("plan",), ("ledger", "verify"), ("ledger", "leases")):
        result = project.run(*args)
        assert result.code == 1, result.output
        assert "pw-9f8e7d6c5b" not in result.output
        assert "cannot be reached (dbname=ledger host=127.0.0.1 port=1 user=tool)" in result.err
        assert len(result.err.strip().splitlines()) == 1, result.err


def test_ledger_sql_prints_ddl_and_grants_an_administrator_runs(project, pg_dsn):
    result = project.run("ledger", "sql", "--grant-to", "reconcile_tool")
    assert result.code == 0, result.output
    assert "GRANT SELECT, INSERT ON reconciler.ledger_header" in result.out
    assert "UPDATE" not in result.out.split("GRANT SELECT, INSERT ON")[1].split(";")[0]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE ROLE reconcile_tool LOGIN")
        conn.execute(result.out)
        conn.execute(result.out)  # safe to run again
        grants = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = 'reconcile_tool'"
        ).fetchall()
    assert {g for g in grants if g[0] == "ledger_records"} == {
        ("ledger_records", "SELECT"),
        ("ledger_records", "INSERT"),
    }
    bad = project.run("ledger", "sql", "--grant-to", "x; DROP TABLE y")
    assert bad.code == 1 and bad.out == "" and "not a plain role name" in bad.err


def test_the_postgres_only_commands_say_so_on_a_file_ledger(project, tmp_path):
    for args in (("ledger", "leases"), ("ledger", "export", str(tmp_path / "out"))):
        result = project.run(*args)
        assert result.code == 1
        assert "needs the PostgreSQL ledger (ledger.backend: postgres" in result.err


def test_leases_and_verify_on_an_empty_postgres_ledger(project, pg_dsn, monkeypatch):
    use_postgres(project)
    monkeypatch.setenv("TEST_LEDGER_DSN", pg_dsn)
    leases = project.run("ledger", "leases")
    assert leases.code == 0 and "0 lease(s)." in leases.err
    verify = project.run("ledger", "verify")
    assert verify.code == 0, verify.output
    assert list_leases(PgStorage(pg_dsn)) == []


def test_ledger_resolve_on_postgres_takes_the_items_target_lease_and_is_recorded(
    project, pg_dsn, monkeypatch
):
    from pathlib import Path

    from reconciler.desired import Fingerprinter
    from reconciler.ledger.store import RunWriter, create_ledger, read_ledger

    use_postgres(project)
    monkeypatch.setenv("TEST_LEDGER_DSN", pg_dsn)
    storage = PgStorage(pg_dsn)
    create_ledger(Path("ledger"), Fingerprinter.salted(b"s" * 16), storage=storage)
    writer = RunWriter(Path("ledger"), "killed000001", {"operation": "apply"}, storage=storage)
    fp = "ab" * 32
    writer.intents([fp], "braze", "d" * 64)  # sent; the run died before its answer
    result = project.run(
        "ledger", "resolve", fp[:12], "--as", "done", "--reason", "gone in the dashboard",
        "--by", "ana@ops", "--force",
    )  # fmt: skip
    assert result.code == 0, result.output
    ledger = read_ledger(Path("ledger"), storage=storage)
    assert ledger.items[fp].state == "done" and ledger.ok
    (run,) = [r for r in ledger.runs.values() if r.get("operation") == "resolve"]
    assert set(run["leases"]) == {"braze"}
    assert list_leases(storage) == []  # given back
    shown = project.run("ledger", "show", fp[:12])
    assert "resolution" in shown.out and "gone in the dashboard" in shown.out
