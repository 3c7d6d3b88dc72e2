"""The plan's fast paths are byte-identical to the general (and older) paths, for every
vendor: the CSV rows a vendor's `csv_canonical` takes, the JSON preview cache and the
composed action text, a vendor's `fast_preview`.

Seeded random manifests per vendor (YAML entries and CSV rows, the same items declared
in both, odd unicode, values that need masking, Insider's numbers): the plan JSON, the
text plan (`--full`) and the saved plan (`reconcile show`) made with every fast path are
the same bytes as with every fast path turned off and each action encoded from
`action_json`, as before the fast paths.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.desired import Item, Source, SourceTable
from reconciler.plan.model import Action, TargetPlan
from reconciler.render import jsonplan
from reconciler.render.jsonplan import _ActionEncoder, _encode, action_json
from reconciler.target import Target
from reconciler.values import item_value_problems, lookalike_problem
from reconciler.vendors.registry import installed
from tests.kit.cli import run_cli
from tests.kit.ledger import TEST_KEY, Proj, make_proj, write_run
from tests.vendors._helpers import RULES

ODD = "abcXYZ019_.-+/@%é\"\\ü😀,' ñ日本"
MEMORY_ID = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"
BASE_URLS = {"opendsr": "https://dsr.example.com"}
PLUGIN_SETTINGS = {"opendsr": {"auth": "basic", "credentials_env": "DSR_CREDENTIALS"}}


def text(rng: random.Random, longest: int = 18) -> str:
    """Odd unicode, quotes, backslashes, line separators; never blank."""
    value = "".join(rng.choice(ODD) for _ in range(rng.randint(1, longest))).strip()
    return value or "x"


def email(rng: random.Random, i: int) -> str:
    local = rng.choice([f"user{i}", f"u{i % 7}", "jane.doe", text(rng, 6).replace("@", "").strip()])
    return f"{local or 'x'}@{rng.choice(['old-domain.example', 'example.com', 'ex.co'])}"


def value(rng: random.Random, i: int) -> str:
    return rng.choice(
        [email(rng, i), f"+1555{i % 10000:07d}", f"u_{i:08d}", f"ext-{i % 50}", text(rng)]
    )


# -- one random manifest entry (as YAML reads it) or CSV row per vendor ------------------


def segment_entry(rng: random.Random, i: int) -> dict[str, Any]:
    ids = []
    for _ in range(rng.randint(1, 3)):
        id_type = rng.choice(["email", "phone", "anonymous_id", "ios.idfa"])
        ids.append(
            {"type": id_type, "value": email(rng, i) if id_type == "email" else value(rng, i)}
        )
    return {"profile": {"user_id": rng.choice([f"u_{i:06d}", text(rng)])}, "identifiers": ids}


PRIORITIES = [["unidentified"], ["identified", "most_recently_updated"], ["most_recently_updated"]]


def braze_entry(rng: random.Random, i: int) -> dict[str, Any]:
    kind = rng.randrange(5)
    if kind == 0:
        return {"profile": {"external_id": rng.choice([f"ext-{i:07d}", text(rng)])}}
    if kind == 1:
        return {"profile": {"braze_id": f"5f3c0e6a9b1d{i:012d}"}}
    if kind == 2:
        alias = {"alias_name": text(rng), "alias_label": rng.choice(["crm", "load_test"])}
        return {"profile": {"user_alias": alias}}
    if kind == 3:
        return {"profile": {"email": email(rng, i), "prioritization": rng.choice(PRIORITIES)}}
    return {"profile": {"phone": f"+1555{i:07d}", "prioritization": rng.choice(PRIORITIES)}}


def memory_entry(rng: random.Random, i: int) -> dict[str, Any]:
    pid = MEMORY_ID[:-6] + f"{i % 10**6:06d}"
    types = rng.sample(["phone", "email", "externalId", "crm-id"], rng.randint(1, 2))
    return {
        "profile": {"profile_id": pid},
        "identifiers": [{"type": t, "all_values": True} for t in types],
    }


def insider_entry(rng: random.Random, i: int) -> dict[str, Any]:
    if rng.random() < 0.2:
        ident = rng.choice(
            [
                {"type": "phone_number", "value": f"+65{i:08d}"},
                # never a value that also locates a user here (a conflict, refused)
                {"type": "email", "value": f"gone{i}@example.com"},
                {"type": "custom.loyalty_id", "value": f"gone-{text(rng)}"},
            ]
        )
        return {"identifiers": [ident]}
    loc = rng.choice(
        [
            {"email": email(rng, i)},
            {"insider_id": f"iid_{i}"},
            {"uuid": f"0b7f3a62-{i:04d}"},
            {"phone_number": f"+4479{i:07d}"},  # not a number an identity delete names
            {"custom": {"loyalty_id": text(rng)}},
        ]
    )
    entry: dict[str, Any] = {"profile": loc}
    entry["attributes"] = rng.sample(["name", "surname", "city", "email_optin"], rng.randint(1, 2))
    if rng.random() < 0.3:
        entry["attribute_values"] = {"list_id": [rng.randint(1, 99), str(rng.randint(1, 99))]}
    if rng.random() < 0.3:
        entry["custom_attributes"] = ["favourite_store"]
    if rng.random() < 0.3:
        entry["custom_attribute_values"] = {"interests": [text(rng)]}
    return entry


def opendsr_entry(rng: random.Random, i: int) -> dict[str, Any]:
    identities = {"email": email(rng, i)}
    if rng.random() < 0.5:
        identities["controller_customer_id"] = text(rng)
    return {"identities": identities, "submitted_time": f"2024-05-{1 + i % 28:02d}T10:00:00Z"}


ENTRIES: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "segment": segment_entry,
    "braze": braze_entry,
    "twilio_memory": memory_entry,
    "insider": insider_entry,
    "opendsr": opendsr_entry,
}

# CSV shapes: the header and row i's cells
CSVS: dict[str, list[tuple[list[str], Callable[[random.Random, int], list[str]]]]] = {
    "segment": [
        (["user_id", "type", "value"], lambda r, i: [f"u_{i:06d}", "email", email(r, i)]),
        (["value", "type", "user_id"], lambda r, i: [value(r, i), "phone", f"u_{i:06d}"]),
    ],
    "braze": [
        (["external_id"], lambda r, i: [rng_or(r, f"ext-{i:07d}")]),
        (
            ["email", "prioritization"],
            lambda r, i: [email(r, i), "unidentified most_recently_updated"],
        ),
        (["alias_label", "alias_name"], lambda r, i: ["crm", rng_or(r, f"al-{i}")]),
    ],
    "twilio_memory": [
        (["type", "profile_id"], lambda r, i: ["phone", MEMORY_ID[:-6] + f"{i % 10**6:06d}"]),
    ],
    "insider": [
        (["email", "attribute"], lambda r, i: [email(r, i), r.choice(["name", "city"])]),
        (
            ["custom.loyalty_id", "custom_attribute"],
            lambda r, i: [rng_or(r, f"L{i}"), "favourite_store"],
        ),
        (["uuid", "attribute", "value"], lambda r, i: [f"u-{i}", "list_id", str(i % 90)]),
    ],
}


def rng_or(rng: random.Random, plain: str) -> str:
    """A plain value, or now and then odd unicode (no cell may hold a control
    character; look-alike mixes are refused per cell either way)."""
    return text(rng) if rng.random() < 0.3 else plain


TARGETS = {"segment": "seg", "braze": "braze", "twilio_memory": "mem", "insider": "ins"}
INSIDER_CONFIG = "    custom_attributes: [favourite_store, interests]\n"


def rules_of(vendor: str) -> Any:
    rules = RULES[vendor]
    if vendor == "insider":
        rules = rules.for_target({"custom_attributes": ["favourite_store", "interests"]})
    return rules


def clean(vendor: str, entry: dict[str, Any]) -> bool:
    """Whether the general path makes the entry's items without any problem (a plan
    is refused otherwise)."""
    problems: list[str] = []
    items = rules_of(vendor).items("t", entry, lambda p, m: problems.append(m))
    return not problems and not any(item_value_problems(i) for i in items)


def clean_row(vendor: str, header: list[str], cells: list[str]) -> bool:
    if any(lookalike_problem(c) or c != c.strip() for c in cells):
        return False
    return clean(vendor, rules_of(vendor).csv_reader(header)(dict(zip(header, cells, strict=True))))


def write_manifests(proj: Proj, vendor: str, rng: random.Random, n: int) -> None:
    """YAML entries and CSV rows for `vendor`'s target; about a tenth of the CSV rows
    repeat an item of the YAML (the same item declared twice: one item, two sources)."""
    target = TARGETS[vendor]
    entries = [e for e in (ENTRIES[vendor](rng, i) for i in range(n)) if clean(vendor, e)]
    spec: dict[str, Any] = {"target": target, "absent": entries}
    if vendor == "braze":
        spec["delete_profiles"] = True
    sources = []
    for k, (header, row) in enumerate(CSVS[vendor]):
        rows = [row(rng, i) for i in range(n)]
        rows += [row(rng, i) for i in rng.sample(range(n), n // 10)]  # repeats within
        rows = [cells for cells in rows if clean_row(vendor, header, cells)]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        name = f"{target}-{k}.csv"
        proj.write(f"specs/{name}", buffer.getvalue())
        sources.append(name)
    # the same items in YAML and in CSV: the first CSV's rows as entries
    header, row = CSVS[vendor][0]
    reader = rules_of(vendor).csv_reader(header)
    for i in rng.sample(range(n), n // 10):
        cells = row(random.Random(i), i)
        if clean_row(vendor, header, cells):
            entries.append(reader(dict(zip(header, cells, strict=True))))
    spec["absent_csv"] = sources
    doc = {
        "apiVersion": "reconciler/v1",
        "kind": "Removal",
        "metadata": {"name": f"random-{target}", "owner": "o", "reason": "r"},
        "spec": spec,
    }
    proj.write(f"specs/{target}.yaml", yaml.safe_dump(doc, allow_unicode=True))


def general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fast path off: rows through entries and items, no fast_preview, every
    action encoded from action_json (the path before any of them)."""
    for name, v in installed().vendors.items():
        monkeypatch.setattr(type(v.rules), "csv_canonical", lambda self, t, h: None)
        monkeypatch.setattr(type(v.requests), "fast_preview", lambda self, t, m: None)
        assert RULES[name].csv_canonical("t", ["x"]) is None
    monkeypatch.setattr(_ActionEncoder, "encode", _old_encode)


def _old_encode(self: _ActionEncoder, action: Action) -> str:
    """An action's text as before the fast paths: action_json encoded whole."""
    text = _encode(action_json(self.tp, action, self.show_values))
    late = jsonplan._late(action, self.overdue)
    return f'{text[:-1]}, "overdue": {_encode(late)}}}' if late else text


def outputs(proj: Proj, tag: str) -> dict[str, str]:
    plan = run_cli("plan", "--format", "json", "--out", f"{tag}.plan")
    assert plan.code == 0, plan.output
    shown = run_cli("plan", "--format", "json", "--show-values")
    full = run_cli("plan", "--full")
    saved = run_cli("show", f"{tag}.plan", "--format", "json")
    assert saved.code == 0, saved.output
    return {"json": plan.out, "values": shown.out, "text": full.out, "saved": saved.out}


@pytest.mark.parametrize(
    "vendors", [["segment"], ["braze"], ["twilio_memory"], ["insider"], list(TARGETS)]
)
def test_plan_outputs_are_the_general_paths_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vendors: list[str]
) -> None:
    proj = make_proj(tmp_path, monkeypatch, key=TEST_KEY)
    config = (tmp_path / "reconciler.yaml").read_text(encoding="utf-8")
    proj.write(
        "reconciler.yaml",
        config.replace(
            "    token_env: INSIDER_REQUEST_TOKEN\n",
            "    token_env: INSIDER_REQUEST_TOKEN\n" + INSIDER_CONFIG,
        ),
    )
    rng = random.Random(f"equivalence-{'-'.join(vendors)}")
    n = 1000 if len(vendors) == 1 else 300
    for v in vendors:
        write_manifests(proj, v, rng, n)
    proj.create_ledger()
    items = proj.items()
    assert len(items) > n
    # a third of the items in the ledger, in every state a plan shows
    states = ["done", "accepted", "failed", "unknown", "rejected"]
    recorded = [
        (proj.fp(i), i.target, rng.choice(states)) for i in rng.sample(items, len(items) // 3)
    ]
    write_run(proj.ledger_dir, recorded)
    fast = outputs(proj, "fast")
    with monkeypatch.context() as m:
        general_only(m)
        slow = outputs(proj, "slow")
    for what in fast:
        assert fast[what] == slow[what], what
    assert fast["json"].count('{"fingerprint": ') == len(items)
    assert "***" in fast["json"] and fast["json"] != fast["values"]


# -- the encoder alone, over every installed vendor (a plugin included) ------------------


def vendor_items(vendor: str, rng: random.Random, n: int) -> Iterator[Item]:
    """Items the vendor's own rules make of random entries (those without problems)."""
    rules = rules_of(vendor)
    made = 0
    i = 0
    while made < n:
        i += 1
        problems: list[str] = []
        found = rules.items(
            "tgt", ENTRIES[vendor](rng, i), lambda p, m, out=problems: out.append(m)
        )
        if not problems:
            for item in found:
                made += 1
                yield item


@pytest.mark.parametrize("show_values", [False, True])
@pytest.mark.parametrize("vendor", sorted(v for v in installed().vendors if v in ENTRIES))
def test_encoded_actions_are_action_json(vendor: str, show_values: bool) -> None:
    """Each action's text (fast_preview, the preview cache, or neither) is the encoding of
    action_json, for thousands of random items of each vendor, with repeats."""
    rng = random.Random(f"encoder-{vendor}")
    target = Target(
        "tgt",
        vendor,
        BASE_URLS.get(vendor, "https://api.example.com"),
        {
            "space_id": "spa_x/+ é",
            "store_id": MEMORY_ID.replace("profile", "store"),
            "partner_name": "brand",
            **PLUGIN_SETTINGS.get(vendor, {}),
        },
    )
    tp = TargetPlan(target)
    table = SourceTable()
    items = list(vendor_items(vendor, rng, 3000))
    items += rng.sample(items, 300)  # the same items again: cache hits
    encoder = _ActionEncoder(tp, show_values)
    for item in items:
        sources = [
            Source(rng.choice(["m1", 'm"2']), rng.choice(["a.csv", "b é.yaml"]), rng.randint(1, 99))
            for _ in range(rng.randint(1, 3))
        ]
        refs: int | list[int] = [table.pack(s) for s in sources]
        if len(sources) == 1:
            refs = refs[0]
        state = rng.choice(["pending", "done", "unknown", "failed", "rejected", "accepted"])
        action = Action("f" * 64, item.canonical(), vendor, refs, table, state)
        assert encoder.encode(action) == _encode(action_json(tp, action, show_values)), item
    if not show_values and encoder.fast is None:
        # masked items repeat: far fewer previews than items were computed
        assert 0 < len(encoder.previews) < len(items)


def test_the_preview_cache_starts_again_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonplan, "PREVIEWS", 8)
    rng = random.Random("cache-bound")
    target = Target("tgt", "braze", "https://rest.iad-01.braze.com", {})
    tp = TargetPlan(target)
    table = SourceTable()
    encoder = _ActionEncoder(tp, False)
    for item in vendor_items("braze", rng, 200):
        action = Action(
            "e" * 64, item.canonical(), "braze", table.pack(Source("m", "f", 1)), table, "pending"
        )
        assert encoder.encode(action) == _encode(action_json(tp, action, False))
        assert len(encoder.previews) <= 8
