"""The PostgreSQL backend: the same records as the file ledger, one row each, in an
append-only table, and leases per (lineage, target) with fencing tokens.

    schema.py    the DDL and the grants (`reconcile ledger sql`)
    connect.py   connecting, and a DSN as it may be shown (password masked)
    storage.py   PgStorage: reconciler.ledger.storage.Storage over the tables
    leases.py    taking, renewing, releasing and breaking a target's lease
    transfer.py  export to the file format and import from it

psycopg is imported only in this package.
"""
