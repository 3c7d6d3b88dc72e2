"""`reconcile encrypt FILE` and `reconcile decrypt FILE --stdout`: age-encrypted sources.

A manifest or CSV encrypted to `FILE.age` keeps its identifiers out of git: plan and apply
decrypt it in memory with the age identity in the variable `sources.age_key_env` names.
`decrypt` prints the plaintext to standard output only, and only when asked with
`--stdout`: it never writes a decrypted file.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.config import Config, display
from reconciler.errors import ReconcilerError
from reconciler.inputs import (
    MAX_CSV_BYTES,
    InputRefused,
    check_output,
    confine,
    open_regular,
)
from reconciler.manifests.encrypted import (
    AGE_SUFFIX,
    Recipient,
    encrypt_file,
    is_encrypted,
    open_decrypted,
    parse_recipient,
)


def _source(config: Config, file: Path) -> Path:
    """FILE resolved, inside the repository (an encrypted source is read from there)."""
    try:
        return confine(file, config.root, str(file), "source")
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc


def _recipients(config: Config, given: tuple[str, ...]) -> list[Recipient]:
    if given:
        return [parse_recipient(r) for r in given]
    if config.age_identities:
        return [identity.to_public() for identity in config.age_identities]
    hint = (
        f" (or set {config.age_key_env}, whose identity's public key is then used)"
        if config.age_key_env
        else ""
    )
    raise ReconcilerError(f"give --recipient AGE_PUBLIC_KEY{hint}")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    metavar="AGE_PUBLIC_KEY",
    help="Encrypt to this age public key (age1..., repeatable). Default: the public key "
    "of the identity in the variable sources.age_key_env names.",
)
@pass_globals
def encrypt(g: Globals, file: Path, recipients: tuple[str, ...]) -> int:
    """Encrypt a manifest or CSV source to FILE.age (never overwrites)."""
    config = g.config()
    if is_encrypted(file.name):
        raise ReconcilerError(f"{file}: already an encrypted source ({AGE_SUFFIX})")
    source = _source(config, file)
    out = file.with_name(file.name + AGE_SUFFIX)
    try:
        check_output(out, str(out))
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    if out.exists():
        raise ReconcilerError(f"{out} already exists: refusing to overwrite it")
    keys = _recipients(config, recipients)
    try:
        handle = open_regular(source, MAX_CSV_BYTES, str(file))
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    with handle:
        encrypt_file(handle, out, keys)
    click.echo(
        f"Wrote {display(out)} (encrypted to {len(keys)} recipient(s)).\n"
        f"Next: name {out.name} where the manifests named {file.name}, delete {file.name} "
        "(git rm it if it was committed), and if it ever reached a pushed commit, purge "
        "it from history (README: Personal data in this repository)."
    )
    return 0


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the plaintext (personal data) to standard output. Required: decrypt "
    "never writes a file.",
)
@pass_globals
def decrypt(g: Globals, file: Path, to_stdout: bool) -> int:
    """Print an encrypted source's plaintext (with --stdout only)."""
    if not to_stdout:
        raise ReconcilerError(
            "decrypt prints personal data: pass --stdout to print it to standard output "
            "(a decrypted file is never written)"
        )
    config = g.config()
    if not is_encrypted(file.name):
        raise ReconcilerError(f"{file}: not an encrypted source (no {AGE_SUFFIX} suffix)")
    if config.age_identities is None:
        named = config.age_key_env or "the variable sources.age_key_env names"
        raise ReconcilerError(f"{file}: key not available (set {named})")
    source = _source(config, file)
    try:
        raw = open_regular(source, MAX_CSV_BYTES, str(file))
        with open_decrypted(raw, config.age_identities, str(file), config.age_key_env) as plain:
            shutil.copyfileobj(plain, sys.stdout.buffer)
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    sys.stdout.buffer.flush()
    return 0
