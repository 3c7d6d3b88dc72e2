"""The tables of a PostgreSQL ledger, and the grants the tool's role needs.

    <schema>.ledger_header   the header line (at most one row)
    <schema>.ledger_parts    one row per part of a run (a file of the file ledger)
    <schema>.ledger_records  one row per record: its part, line number, bytes, fence
    <schema>.ledger_leases   one row per (lineage, target) held by a live run
    <schema>.ledger_fence    the sequence fencing tokens come from

The first three are append-only: a trigger refuses UPDATE, DELETE and TRUNCATE for
every role, the owner included, and the tool's role is granted only SELECT and INSERT
on them. A record row carries the fencing tokens of the leases its run held
(`fence`): a statement trigger refuses, in the inserting transaction, rows whose
tokens are not the current, unexpired tokens of their leases (taken over, broken or
expired), and rows whose fence is not their part's. It locks those lease rows FOR
SHARE, so a takeover waits for the insert to commit, and the new holder reads the
ledger after it has the lease: it sees every record the old holder got in.
"""

from __future__ import annotations

import re

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
FENCED = "RL001"  # SQLSTATE of a record refused for a stale fencing token
APPEND_ONLY = "RL002"  # SQLSTATE of an UPDATE/DELETE/TRUNCATE refused

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};

CREATE TABLE IF NOT EXISTS {s}.ledger_header (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    line bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS {s}.ledger_parts (
    name text PRIMARY KEY,
    fence bigint[] NOT NULL DEFAULT '{{}}',
    created timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS {s}.ledger_records (
    part text NOT NULL REFERENCES {s}.ledger_parts (name),
    no integer NOT NULL CHECK (no > 0),
    line bytea NOT NULL,
    fence bigint[] NOT NULL DEFAULT '{{}}',
    written timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (part, no)
);

CREATE SEQUENCE IF NOT EXISTS {s}.ledger_fence;

CREATE TABLE IF NOT EXISTS {s}.ledger_leases (
    lineage text NOT NULL,
    target text NOT NULL,
    token bigint NOT NULL UNIQUE,
    operation text NOT NULL,
    who text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    run text NOT NULL,
    since timestamptz NOT NULL,
    expires timestamptz NOT NULL,
    PRIMARY KEY (lineage, target)
);

CREATE OR REPLACE FUNCTION {s}.ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on %.% is refused', TG_OP,
        TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = '{append_only}';
END $$;

CREATE OR REPLACE FUNCTION {s}.ledger_check_fence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_rows r JOIN {s}.ledger_parts p ON p.name = r.part
        WHERE p.fence IS DISTINCT FROM r.fence
    ) THEN
        RAISE EXCEPTION 'a record''s fencing tokens differ from its part''s'
            USING ERRCODE = '{fenced}';
    END IF;
    -- hold the leases until this commits: a takeover waits for it
    PERFORM 1 FROM {s}.ledger_leases
        WHERE token IN (SELECT unnest(fence) FROM new_rows) FOR SHARE;
    SELECT t INTO bad FROM (SELECT DISTINCT unnest(fence) AS t FROM new_rows) f
        WHERE NOT EXISTS (
            SELECT 1 FROM {s}.ledger_leases l
            WHERE l.token = f.t AND l.expires > clock_timestamp()
        )
        LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'fencing token % is not a live lease (expired, taken over or '
            'broken): the record is refused', bad USING ERRCODE = '{fenced}';
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ledger_header', 'ledger_parts', 'ledger_records'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_trigger
            WHERE tgname = t || '_append_only'
              AND tgrelid = format('%I.%I', '{s}', t)::regclass
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON {s}.%I '
                'FOR EACH ROW EXECUTE FUNCTION {s}.ledger_refuse_change()',
                t || '_append_only', t);
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE TRUNCATE ON {s}.%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION {s}.ledger_refuse_change()',
                t || '_no_truncate', t);
        END IF;
    END LOOP;
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = 'ledger_records_fence'
          AND tgrelid = '{s}.ledger_records'::regclass
    ) THEN
        CREATE TRIGGER ledger_records_fence AFTER INSERT ON {s}.ledger_records
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.ledger_check_fence();
    END IF;
END $$;
"""

_GRANTS = """
GRANT USAGE ON SCHEMA {s} TO {role};
GRANT SELECT, INSERT ON {s}.ledger_header, {s}.ledger_parts, {s}.ledger_records TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.ledger_leases TO {role};
GRANT USAGE ON SEQUENCE {s}.ledger_fence TO {role};
REVOKE UPDATE, DELETE, TRUNCATE
    ON {s}.ledger_header, {s}.ledger_parts, {s}.ledger_records FROM {role};
"""

ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def ddl(schema: str) -> str:
    """The statements that create (or complete) the ledger's tables; safe to run again."""
    _check(schema, SCHEMA_NAME, "schema")
    return _DDL.format(s=schema, fenced=FENCED, append_only=APPEND_ONLY).strip() + "\n"


def grants(schema: str, role: str) -> str:
    """What the tool's role needs, and no more: no UPDATE or DELETE on the ledger."""
    _check(schema, SCHEMA_NAME, "schema")
    _check(role, ROLE_NAME, "role")
    return _GRANTS.format(s=schema, role=role).strip() + "\n"


def _check(name: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.match(name):
        raise ValueError(f"not a plain {what} name: {name!r}")
