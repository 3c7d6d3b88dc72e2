"""The tests' one helper package: what tests share, each module one job.

- `specs`: the repository's paths, the one-target-per-vendor config and manifests;
- `cli`: running `reconcile` in-process (`run_cli`, `run_captured`) and its `CliResult`;
- `repo`: `Repo`, a user's repository in a temp folder (files, config, ledger folder);
- `project`: `Project`, the validate/CLI tests' project (the `project` fixture);
- `ledger`: `Proj`, a project with ledgers written by the real RunWriter (`proj`,
  `keyed_proj`), and `write_run`;
- `e2e`: the end-to-end project whose targets point at the loopback sandbox, its seed
  and manifests (tests/e2e/conftest.py gives it as `project`).

Fixtures stay in the conftest files; they build these.
"""
