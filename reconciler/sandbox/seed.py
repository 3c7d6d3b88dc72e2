"""Seed files: read one (YAML or JSON), check its shape strictly, build the state.

Seed file format (every section optional; see ``example_seed.yaml``)::

    segment:
      spaces:
        spa_demo:                          # the space id used in URLs
          delete_enabled: true             # false: deletes get 403 forbidden
          source_attached: true            # false: deletes get 404 source_id_not_found
          profiles:
            - segment_id: use_jane         # optional, generated when left out
              external_ids:                # "type: id" pairs, oldest first
                - {type: user_id, id: u_1001}
                - {type: email, id: jane@old-domain.example}
    braze:
      users:
        - external_id: ext_1001            # every field optional
          braze_id: 65f0c0ffee0000000000a001   # generated when left out
          email: jane@old-domain.example
          phone: "+15555550100"
          user_aliases: [{alias_name: jane, alias_label: crm}]
          updated_at: "2026-01-01T00:00:00Z"   # used by most_recently_updated
          attributes: {first_name: Jane}
    twilio_memory:
      stores:
        mem_store_0aaaaaaaaaaaaaaaaaaaaaaaaa:
          identifier_configs:              # the spec's IdentifierConfig; default: one per
            - {idType: email, limitPolicy: fifo}   # idType the profiles hold
            - {idType: phone}
          # limit_policy: {email: fifo}    # shorthand when identifier_configs is left out
          profiles:
            mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa:
              identifiers: {email: [a@example.com, b@example.com], phone: ["+15555550100"]}
              traits: {Contact: {firstName: Jane}}
              created_at: "2026-01-01T00:00:00Z"
            mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb:
              merged_into: mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa   # answers 301/308
    insider:
      users:
        - insider_id: iid_jane             # generated when left out
          identifiers: {email: jane@old-domain.example, phone_number: "+15555550100",
                        uuid: u-1, custom: {loyalty_id: L-1}}
          attributes: {name: Jane, list_id: [1, 2]}
          custom_attributes: {tier: gold, interests: [golf, tennis]}

Identifier values are stored as given (no normalisation), and lists keep their order,
which is the chronological order the vendors' reads report. An unknown key, a value of
the wrong type or a dangling reference is a :class:`SeedError` naming the place.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from reconciler.sandbox.datafile import (
    DataFileError,
    DataPath,
    choice,
    flag,
    integer,
    mapping,
    optional_text,
    read_data_file,
    required,
    sequence,
    text,
    timestamp,
)
from reconciler.sandbox.state import (
    INSIDER_DEFAULT_IDENTIFIERS,
    TWILIO_ID_TYPE,
    TWILIO_MAX_ID_TYPES,
    TWILIO_NORMALIZATION,
    TWILIO_PROFILE_ID,
    TWILIO_STORE_ID,
    VENDORS,
    BrazeUser,
    InsiderUser,
    SandboxState,
    SegmentExternalId,
    SegmentProfile,
    SegmentSpace,
    TwilioIdentifierConfig,
    TwilioProfile,
    TwilioStore,
    stable_id,
)

# A seed that does not have the documented shape (file, line, place and reason).
SeedError = DataFileError
LIMIT_POLICIES = ("fifo", "lifo")


def load_seed_file(path: str | Path) -> tuple[dict[str, Any], SandboxState]:
    """The seed data in ``path`` and the state it describes; SeedError (with the file and
    line) when the file cannot be read, is not YAML/JSON, or has the wrong shape."""
    data, line_of = read_data_file(path)
    try:
        return data, state_from_seed(data)
    except DataFileError as exc:
        raise exc.located(str(path), line_of) from exc


# --- building the state --------------------------------------------------------------


def state_from_seed(seed: Any) -> SandboxState:
    """The state described by parsed seed data (see the module docstring)."""
    top = mapping(copy.deepcopy(seed), (), VENDORS)  # the state never shares the seed's lists
    state = SandboxState()
    segment = mapping(top.get("segment"), ("segment",), ("spaces",))
    state.segment_spaces = _segment_spaces(segment.get("spaces"), ("segment", "spaces"))
    braze = mapping(top.get("braze"), ("braze",), ("users",))
    users = sequence(braze.get("users"), ("braze", "users"))
    state.braze_users = [seed_braze_user(u, i, ("braze", "users", i)) for i, u in enumerate(users)]
    _unique_braze_ids(state.braze_users)
    twilio = mapping(top.get("twilio_memory"), ("twilio_memory",), ("stores",))
    state.twilio_stores = _twilio_stores(twilio.get("stores"), ("twilio_memory", "stores"))
    insider = mapping(top.get("insider"), ("insider",), ("users",))
    state.insider_users = [
        _insider_user(u, i, ("insider", "users", i))
        for i, u in enumerate(sequence(insider.get("users"), ("insider", "users")))
    ]
    return state


_SPACE_KEYS = ("delete_enabled", "source_attached", "profiles")


def _segment_spaces(raw: Any, path: DataPath) -> dict[str, SegmentSpace]:
    spaces: dict[str, SegmentSpace] = {}
    for space_id, value in mapping(raw, path).items():
        where = (*path, space_id)
        space = mapping(value, where, _SPACE_KEYS)
        profiles = [
            _segment_profile(space_id, i, p, (*where, "profiles", i))
            for i, p in enumerate(sequence(space.get("profiles"), (*where, "profiles")))
        ]
        spaces[space_id] = SegmentSpace(
            space_id=space_id,
            delete_enabled=flag(space, "delete_enabled", where, True),
            source_attached=flag(space, "source_attached", where, True),
            profiles=profiles,
        )
    return spaces


def _segment_profile(space_id: str, index: int, raw: Any, path: DataPath) -> SegmentProfile:
    profile = mapping(raw, path, ("segment_id", "external_ids"))
    ids = []
    for i, e in enumerate(sequence(profile.get("external_ids"), (*path, "external_ids"))):
        where = (*path, "external_ids", i)
        entry = mapping(e, where, ("type", "id"))
        required(entry, ("type", "id"), where)
        ids.append(
            SegmentExternalId(
                type=text(entry["type"], (*where, "type")), id=text(entry["id"], (*where, "id"))
            )
        )
    if not any(e.type == "user_id" for e in ids):
        raise SeedError("a profile needs a user_id among its external_ids", path)
    segment_id = optional_text(profile, "segment_id", path) or stable_id("use_", space_id, index)
    return SegmentProfile(segment_id, ids)


_BRAZE_KEYS = (
    "external_id",
    "braze_id",
    "email",
    "phone",
    "user_aliases",
    "updated_at",
    "attributes",
)


def seed_braze_user(raw: Any, index: int | str, path: DataPath = ()) -> BrazeUser:
    """A Braze user from its seed entry; a generated braze_id also hashes ``index`` (the
    entry's place), so two users with the same fields still get different ids."""
    user = mapping(raw, path, _BRAZE_KEYS)
    aliases = []
    for i, a in enumerate(sequence(user.get("user_aliases"), (*path, "user_aliases"))):
        where = (*path, "user_aliases", i)
        alias = mapping(a, where, ("alias_name", "alias_label"))
        aliases.append(
            (
                text(alias.get("alias_name"), (*where, "alias_name")),
                text(alias.get("alias_label"), (*where, "alias_label")),
            )
        )
    external_id = optional_text(user, "external_id", path)
    email = optional_text(user, "email", path)
    phone = optional_text(user, "phone", path)
    braze_id = optional_text(user, "braze_id", path) or stable_id(
        "", index, external_id, email, phone, aliases
    )
    updated_at = user.get("updated_at")
    return BrazeUser(
        braze_id=braze_id,
        external_id=external_id,
        email=email,
        phone=phone,
        user_aliases=aliases,
        updated_at=(
            "2026-01-01T00:00:00Z"
            if updated_at is None
            else timestamp(updated_at, (*path, "updated_at"))
        ),
        attributes=dict(mapping(user.get("attributes"), (*path, "attributes"))),
    )


def _unique_braze_ids(users: list[BrazeUser]) -> None:
    seen: set[str] = set()
    for i, user in enumerate(users):
        if user.braze_id in seen:
            raise SeedError("braze_id given to two users", ("braze", "users", i, "braze_id"))
        seen.add(user.braze_id)


_STORE_KEYS = ("identifier_configs", "limit_policy", "profiles")
_CONFIG_KEYS = (
    "idType",
    "matchingAlgo",
    "matchingThreshold",
    "limit",
    "limitPolicy",
    "enforceUnique",
    "normalization",
)
_PROFILE_KEYS = ("identifiers", "merged_into", "traits", "created_at")


def _twilio_stores(raw: Any, path: DataPath) -> dict[str, TwilioStore]:
    stores: dict[str, TwilioStore] = {}
    for store_id, value in mapping(raw, path).items():
        where = (*path, store_id)
        if not TWILIO_STORE_ID.match(store_id):
            raise SeedError(f"a store id matches {TWILIO_STORE_ID.pattern}", where)
        store = mapping(value, where, _STORE_KEYS)
        raw_profiles = mapping(store.get("profiles"), (*where, "profiles"))
        profiles = {
            profile_id: _twilio_profile(profile_id, p, (*where, "profiles", profile_id))
            for profile_id, p in raw_profiles.items()
        }
        for profile_id, profile in profiles.items():
            if profile.merged_into and profile.merged_into not in profiles:
                raise SeedError(
                    "merged_into must name a profile of the same store",
                    (*where, "profiles", profile_id, "merged_into"),
                )
        if "identifier_configs" in store:
            if "limit_policy" in store:
                raise SeedError(
                    "give limitPolicy inside identifier_configs, not limit_policy as well",
                    (*where, "limit_policy"),
                )
            configs = _identifier_configs(
                store["identifier_configs"], (*where, "identifier_configs")
            )
            _only_configured(profiles, configs, (*where, "profiles"))
        else:
            configs = _derived_configs(store.get("limit_policy"), profiles, where)
        stores[store_id] = TwilioStore(store_id, configs, profiles)
    return stores


def _identifier_configs(raw: Any, path: DataPath) -> list[TwilioIdentifierConfig]:
    entries = sequence(raw, path)
    if not 1 <= len(entries) <= TWILIO_MAX_ID_TYPES:
        raise SeedError(f"a store has 1 to {TWILIO_MAX_ID_TYPES} identifier configs", path)
    configs: list[TwilioIdentifierConfig] = []
    for i, entry in enumerate(entries):
        where = (*path, i)
        config = mapping(entry, where, _CONFIG_KEYS)
        required(config, ("idType",), where)
        id_type = _id_type(config["idType"], (*where, "idType"))
        if any(c.id_type == id_type for c in configs):
            raise SeedError("idType configured twice", (*where, "idType"))
        threshold = config.get("matchingThreshold")
        configs.append(
            TwilioIdentifierConfig(
                id_type=id_type,
                matching_algo=choice(
                    config.get("matchingAlgo", "exact"),
                    ("exact", "fuzzy"),
                    (*where, "matchingAlgo"),
                ),
                matching_threshold=(
                    None
                    if threshold is None
                    else integer(threshold, 50, 99, (*where, "matchingThreshold"))
                ),
                limit=integer(config.get("limit", 100), 1, 100, (*where, "limit")),
                limit_policy=choice(
                    config.get("limitPolicy", "fifo"), LIMIT_POLICIES, (*where, "limitPolicy")
                ),
                enforce_unique=flag(config, "enforceUnique", where, True),
                normalization=choice(
                    config.get("normalization", TWILIO_NORMALIZATION.get(id_type, "trim")),
                    ("phone", "email", "trim", "none"),
                    (*where, "normalization"),
                ),
            )
        )
    return configs


def _derived_configs(
    raw_policies: Any, profiles: dict[str, TwilioProfile], where: DataPath
) -> list[TwilioIdentifierConfig]:
    """Configs for the idTypes named in ``limit_policy`` and held by the seeded profiles
    (in that order), or for email and phone (the spec's example) when there are none."""
    policies = mapping(raw_policies, (*where, "limit_policy"))
    for id_type, policy in policies.items():
        _id_type(id_type, (*where, "limit_policy", id_type))
        choice(policy, LIMIT_POLICIES, (*where, "limit_policy", id_type))
    id_types = list(policies)
    for profile in profiles.values():
        id_types += [t for t in profile.identifiers if t not in id_types]
    if len(id_types) > TWILIO_MAX_ID_TYPES:
        raise SeedError(f"a store has at most {TWILIO_MAX_ID_TYPES} idTypes", where)
    return [
        TwilioIdentifierConfig(t, limit_policy=policies.get(t, "fifo"))
        for t in id_types or ["email", "phone"]
    ]


def _only_configured(
    profiles: dict[str, TwilioProfile], configs: list[TwilioIdentifierConfig], path: DataPath
) -> None:
    configured = {c.id_type for c in configs}
    for profile_id, profile in profiles.items():
        for id_type in profile.identifiers:
            if id_type not in configured:
                raise SeedError(
                    "this idType is not in the store's identifier_configs (idTypes are "
                    "case-sensitive)",
                    (*path, profile_id, "identifiers", id_type),
                )


def _id_type(value: Any, path: DataPath) -> str:
    id_type = text(value, path)
    if not TWILIO_ID_TYPE.match(id_type):
        raise SeedError("an idType is 2 to 30 letters, digits, '-' or '_'", path)
    return id_type


def _twilio_profile(profile_id: str, raw: Any, path: DataPath) -> TwilioProfile:
    if not TWILIO_PROFILE_ID.match(profile_id):
        raise SeedError(f"a profile id matches {TWILIO_PROFILE_ID.pattern}", path)
    profile = mapping(raw, path, _PROFILE_KEYS)
    identifiers: dict[str, list[str]] = {}
    for id_type, values in mapping(profile.get("identifiers"), (*path, "identifiers")).items():
        where = (*path, "identifiers", id_type)
        _id_type(id_type, where)
        identifiers[id_type] = [text(v, (*where, i)) for i, v in enumerate(sequence(values, where))]
    traits = {
        group: dict(mapping(values, (*path, "traits", group)))
        for group, values in mapping(profile.get("traits"), (*path, "traits")).items()
    }
    merged_into = optional_text(profile, "merged_into", path)
    if merged_into and (identifiers or traits):
        raise SeedError("a merged profile holds nothing itself (its canonical one does)", path)
    created_at = profile.get("created_at")
    return TwilioProfile(
        profile_id,
        identifiers,
        merged_into,
        traits,
        "2026-01-01T00:00:00Z"
        if created_at is None
        else timestamp(created_at, (*path, "created_at")),
    )


def _insider_user(raw: Any, index: int, path: DataPath) -> InsiderUser:
    user = mapping(raw, path, ("insider_id", "identifiers", "attributes", "custom_attributes"))
    where = (*path, "identifiers")
    given = mapping(user.get("identifiers"), where, (*INSIDER_DEFAULT_IDENTIFIERS, "custom"))
    identifiers = {k: text(v, (*where, k)) for k, v in given.items() if k != "custom"}
    custom = {
        k: text(v, (*where, "custom", k))
        for k, v in mapping(given.get("custom"), (*where, "custom")).items()
    }
    insider_id = optional_text(user, "insider_id", path) or stable_id(
        "iid_", index, identifiers, custom
    )
    return InsiderUser(
        insider_id=insider_id,
        identifiers=identifiers,
        custom_identifiers=custom,
        attributes=dict(mapping(user.get("attributes"), (*path, "attributes"))),
        custom_attributes=dict(
            mapping(user.get("custom_attributes"), (*path, "custom_attributes"))
        ),
    )
