"""Credential checks: any well-formed credential by default, exact values when pinned.

``--credentials FILE`` (YAML or JSON) pins the accepted values per vendor; a vendor left
out of the file keeps the "any well-formed credential" rule::

    segment:
      tokens: [sgp_token_1]                 # Basic auth user, empty password
    braze:
      api_keys:                             # Bearer keys and their permissions
        key-with-all-permissions: [users.delete, users.export.ids]
        read-only-key: [users.export.ids]
    twilio_memory:
      accounts:                             # Basic auth username -> password
        ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx: auth_token
    insider:
      partners:                             # X-PARTNER-NAME -> X-REQUEST-TOKEN
        mybrand: 1a2b3c4d5e6f

A Braze key may also be listed as a plain list entry (``api_keys: [k1, k2]``), which
grants it every permission.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.sandbox.datafile import DataFileError, mapping, read_data_file, sequence, text

BRAZE_PERMISSIONS = ("users.delete", "users.export.ids")
# Twilio authenticates with an Account SID (AC...) or an API key SID (SK...) as the user.
TWILIO_USER = re.compile(r"^(AC|SK)[0-9a-fA-F]{32}$")


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Split an ``Authorization: Basic`` header into (user, password), or None."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def parse_bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    return token or None


@dataclass
class Credentials:
    """Pinned credentials per vendor; ``None`` for a vendor means "any well-formed"."""

    segment_tokens: set[str] | None = None
    braze_keys: dict[str, set[str]] | None = None
    twilio_accounts: dict[str, str] | None = None
    insider_partners: dict[str, str] | None = None
    source: str = field(default="any well-formed credential")

    @classmethod
    def load(cls, path: str | Path) -> Credentials:
        """Read a credentials file (YAML or JSON, see the module docstring); a malformed
        one raises DataFileError naming the file, line and place."""
        data, line_of = read_data_file(path)
        try:
            return cls.from_data(data, str(path))
        except DataFileError as exc:
            raise exc.located(str(path), line_of) from exc

    @classmethod
    def from_data(cls, data: Any, source: str) -> Credentials:
        top = mapping(data, (), ("segment", "braze", "twilio_memory", "insider"))
        creds = cls(source=source)
        if "segment" in top:
            segment = mapping(top["segment"], ("segment",), ("tokens",))
            tokens = sequence(segment.get("tokens"), ("segment", "tokens"))
            creds.segment_tokens = {text(t, ("segment", "tokens", i)) for i, t in enumerate(tokens)}
        if "braze" in top:
            braze = mapping(top["braze"], ("braze",), ("api_keys",))
            keys, where = braze.get("api_keys"), ("braze", "api_keys")
            if isinstance(keys, list):
                creds.braze_keys = {
                    text(k, (*where, i)): set(BRAZE_PERMISSIONS) for i, k in enumerate(keys)
                }
            else:
                creds.braze_keys = {
                    k: {text(p, (*where, k, i)) for i, p in enumerate(sequence(v, (*where, k)))}
                    for k, v in mapping(keys, where).items()
                }
        if "twilio_memory" in top:
            twilio = mapping(top["twilio_memory"], ("twilio_memory",), ("accounts",))
            where = ("twilio_memory", "accounts")
            accounts = mapping(twilio.get("accounts"), where)
            creds.twilio_accounts = {k: text(v, (*where, k)) for k, v in accounts.items()}
        if "insider" in top:
            insider = mapping(top["insider"], ("insider",), ("partners",))
            where = ("insider", "partners")
            partners = mapping(insider.get("partners"), where)
            creds.insider_partners = {k: text(v, (*where, k)) for k, v in partners.items()}
        return creds

    def segment_ok(self, token: str) -> bool:
        return bool(token) and (self.segment_tokens is None or token in self.segment_tokens)

    def braze_permissions(self, key: str) -> set[str] | None:
        """The permissions of ``key``, or None when the key is not accepted."""
        if self.braze_keys is None:
            return set(BRAZE_PERMISSIONS)
        return self.braze_keys.get(key)

    def twilio_ok(self, user: str, password: str) -> bool:
        if not TWILIO_USER.match(user) or not password:
            return False
        return self.twilio_accounts is None or self.twilio_accounts.get(user) == password

    def insider_partner_known(self, partner: str) -> bool:
        """True unless partners are pinned and ``partner`` is not one of them."""
        return self.insider_partners is None or partner in self.insider_partners

    def insider_ok(self, partner: str, token: str) -> bool:
        if not token:
            return False
        return self.insider_partners is None or self.insider_partners.get(partner) == token
