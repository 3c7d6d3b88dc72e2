"""The four built-in vendors' conformance cases: sample entries and their documented
answers, each from the vendor's FACTS.md (reconciler/vendors/<name>/FACTS.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.desired import Item, canonical_json
from reconciler.evidence import Answer
from reconciler.testing import (
    ABSENT,
    ACCEPTED,
    CHECK,
    FOLLOW,
    PROVES_NOTHING,
    REJECTED,
    REMOVED,
    TARGET_STOP,
    UNKNOWN,
    AnswerCase,
    ConformanceCases,
    CsvCase,
    InadmissibleCase,
    ReadCase,
    json_answer,
    page,
)
from reconciler.vendors.api import ABSENT_SEEN, PRESENT, UNVERIFIED

GOLDEN = Path(__file__).parent / "golden"


def seg_error(status: int, code: str, message: str = "x") -> Answer:
    return json_answer(status, {"error": {"code": code, "message": message}})


SEGMENT_EMAIL = "jane.conformance@old-domain.example"


def segment_ids(*ids: dict[str, str], more: str | None = None) -> Answer:
    cursor = {"url": "", "has_more": more is not None, "next": more or ""}
    return json_answer(200, {"data": list(ids), "cursor": cursor})


SEGMENT = ConformanceCases(
    settings={
        "space_id": "spa_conf01",
        "token_env": "SEGMENT_TOKEN",
        "identifier_types": ["phone"],
    },
    entries={
        "email": {
            "profile": {"user_id": "u_conformance_1001"},
            "identifiers": [{"type": "email", "value": SEGMENT_EMAIL}],
        },
        "email-and-phone": {
            "profile": {"user_id": "u_conformance_1002"},
            "identifiers": [
                {"type": "email", "value": "omar.conformance@old-domain.example"},
                {"type": "phone", "value": "+15555550142"},
            ],
        },
        "odd-user-id": {
            "profile": {"user_id": "u+2/b@conformance"},
            "identifiers": [{"type": "email", "value": "odd.conformance@old-domain.example"}],
        },
    },
    golden=GOLDEN / "segment.json",
    # FACTS.md §3: the Profile API's 404 not_found for a user nobody has
    preflight=[seg_error(404, "not_found", "Profile was not found.")],
    answers=[
        AnswerCase(REMOVED, "email", json_answer(200, {"code": "success"}), why="§2 200"),
        AnswerCase(ABSENT, "email", seg_error(404, "eid_not_found"), why="§2 eid_not_found"),
        AnswerCase(REJECTED, "email", seg_error(404, "not_found"), why="§2 profile not found"),
        AnswerCase(REJECTED, "email", seg_error(400, "unsupported_eid_type"), why="§2 400"),
        AnswerCase(TARGET_STOP, "email", seg_error(404, "source_id_not_found"), why="§2 space"),
        AnswerCase(TARGET_STOP, "email", seg_error(401, "unauthorized"), why="§2 401"),
        AnswerCase(TARGET_STOP, "email", seg_error(403, "forbidden"), why="§2 403"),
        AnswerCase(PROVES_NOTHING, "email", page(404), why="a web server's 404"),
        AnswerCase(PROVES_NOTHING, "email", json_answer(200, {"code": "queued"}), why="2xx other"),
        AnswerCase(PROVES_NOTHING, "email", seg_error(200, "not_found"), why="2xx envelope"),
    ],
    csv=[
        CsvCase(
            ("user_id", "type", "value"), ("u_conformance_1001", "email", SEGMENT_EMAIL), "email"
        )
    ],
    # FACTS.md §3: the Profile API's external_ids, paged by cursor
    reads=[
        ReadCase("email", segment_ids({"type": "email", "id": SEGMENT_EMAIL}), PRESENT),
        ReadCase("email", segment_ids({"type": "email", "id": "other@x.example"}), ABSENT_SEEN),
        ReadCase("email", seg_error(404, "not_found"), ABSENT_SEEN, "no such profile"),
        ReadCase("email", segment_ids(more="cursor-2"), FOLLOW, "the next page"),
        ReadCase("email", seg_error(404, "source_id_not_found"), UNVERIFIED, "the space"),
    ],
)


BRAZE_EMAIL = "anon.conformance@old-domain.example"
BRAZE = ConformanceCases(
    settings={"base_url": "https://rest.iad-01.braze.com", "api_key_env": "BRAZE_API_KEY"},
    spec={"delete_profiles": True},
    entries={
        "external-id": {"profile": {"external_id": "ext_conformance_1001"}},
        "braze-id": {"profile": {"braze_id": "5f3c9a0e2d1b4c77aa01"}},
        "alias": {
            "profile": {"user_alias": {"alias_name": "alias_conformance_77", "alias_label": "crm"}}
        },
        "email": {"profile": {"email": BRAZE_EMAIL, "prioritization": ["unidentified"]}},
        "phone": {
            "profile": {
                "phone": "+15555550177",
                "prioritization": ["identified", "most_recently_updated"],
            }
        },
    },
    golden=GOLDEN / "braze.json",
    # FACTS.md §3: an export of an external_id nobody has
    preflight=[json_answer(201, {"users": [], "invalid_user_ids": ["p"], "message": "success"})],
    answers=[
        AnswerCase(ACCEPTED, "external-id", json_answer(201, {"deleted": 1}), why="§1 queued"),
        AnswerCase(ACCEPTED, "email", json_answer(201, {"deleted": 1}), why="§1 queued"),
        AnswerCase(
            CHECK,
            "email",
            json_answer(201, {"deleted": 0}),
            settle=json_answer(201, {"users": [], "message": "success"}),
            settles_as=ABSENT,
            why="§1 deleted 0, the export finds nobody",
        ),
        AnswerCase(
            CHECK,
            "email",
            json_answer(201, {"deleted": 0}),
            settle=json_answer(201, {"users": [{"external_id": "a1"}, {"external_id": "b2"}]}),
            settles_as=REJECTED,
            why="§1 deleted 0, several users match",
        ),
        AnswerCase(UNKNOWN, "email", json_answer(201, {"message": "success"}), why="no count"),
        AnswerCase(UNKNOWN, "phone", page(200), why="a page after a delete by phone"),
        AnswerCase(TARGET_STOP, "external-id", json_answer(401, {"message": "Invalid API key"})),
        AnswerCase(TARGET_STOP, "email", json_answer(404, {"message": "Not Found"}), why="§2 URL"),
        AnswerCase(REJECTED, "external-id", json_answer(400, {"message": "bad", "errors": []})),
        AnswerCase(
            PROVES_NOTHING, "external-id", json_answer(200, {"message": "success"}), why="no count"
        ),
    ],
    bulk=lambda i: {"profile": {"external_id": f"ext_bulk_{i:05d}"}},
    # FACTS.md §3: /users/export/ids
    reads=[
        ReadCase(
            "external-id",
            json_answer(201, {"users": [{"external_id": "ext_conformance_1001"}]}),
            PRESENT,
        ),
        ReadCase(
            "external-id",
            json_answer(201, {"users": [], "invalid_user_ids": ["ext_conformance_1001"]}),
            ABSENT_SEEN,
        ),
        ReadCase("external-id", json_answer(201, {"users": []}), UNVERIFIED, "not listed"),
        ReadCase("email", json_answer(201, {"users": []}), ABSENT_SEEN, "nobody holds it"),
        ReadCase(
            "email",
            json_answer(201, {"users": [{"external_id": "x1", "email": BRAZE_EMAIL}]}),
            UNVERIFIED,
            "someone holds it: maybe another user",
        ),
    ],
    csv=[
        CsvCase(("external_id",), ("ext_conformance_1001",), "external-id"),
        CsvCase(("email", "prioritization"), (BRAZE_EMAIL, "unidentified"), "email"),
    ],
)


STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"
TWILIO_ERROR = {"code": 20404, "message": "Not found", "status": 404}


def twilio_settings(*types: str) -> Answer:
    configs = [{"idType": t} for t in types]
    return json_answer(200, {"identifierConfigs": configs, "version": 1})


TWILIO_STORE = json_answer(200, {"id": STORE, "status": "ACTIVE"})
TWILIO_MEMORY = ConformanceCases(
    settings={
        "store_id": STORE,
        "account_sid_env": "TWILIO_ACCOUNT_SID",
        "auth_token_env": "TWILIO_AUTH_TOKEN",
    },
    entries={
        "phone": {
            "profile": {"profile_id": PROFILE},
            "identifiers": [{"type": "phone", "all_values": True}],
        },
        "email-and-external-id": {
            "profile": {"profile_id": "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2b2"},
            "identifiers": [
                {"type": "email", "all_values": True},
                {"type": "externalId", "all_values": True},
            ],
        },
    },
    golden=GOLDEN / "twilio_memory.json",
    # FACTS.md §3: the store, then its identifier types
    preflight=[TWILIO_STORE, twilio_settings("email", "phone", "externalId")],
    answers=[
        AnswerCase(
            ACCEPTED, "phone", json_answer(202, {"message": "accepted"}), why="§2 202 async"
        ),
        AnswerCase(
            CHECK,
            "phone",
            json_answer(404, TWILIO_ERROR),
            settle=json_answer(200, {"id": PROFILE, "traits": {}}),
            settles_as=ABSENT,
            why="§2 404, the profile is there",
        ),
        AnswerCase(
            CHECK,
            "phone",
            json_answer(404, TWILIO_ERROR),
            settle=json_answer(404, TWILIO_ERROR),
            settles_as=REJECTED,
            why="§2 404, no such profile",
        ),
        AnswerCase(TARGET_STOP, "phone", json_answer(401, {"code": 20003, "message": "Auth"})),
        AnswerCase(TARGET_STOP, "phone", page(404), why="a web server's 404"),
        AnswerCase(REJECTED, "phone", json_answer(400, {"code": 400, "message": "Bad"})),
        AnswerCase(PROVES_NOTHING, "phone", json_answer(308, {"message": "moved"}), why="308"),
    ],
    csv=[CsvCase(("profile_id", "type"), (PROFILE, "phone"), "phone")],
    # FACTS.md §3: the identifier read
    reads=[
        ReadCase("phone", json_answer(200, {"values": ["+15555550100"]}), PRESENT),
        ReadCase("phone", json_answer(200, {"values": []}), ABSENT_SEEN),
        ReadCase("phone", json_answer(404, TWILIO_ERROR), ABSENT_SEEN),
        ReadCase(
            "phone",
            json_answer(
                301,
                {"message": "moved"},
                location=f"/v1/Stores/{STORE}/Profiles/mem_profile_01h8x3k9q2w7e5r4t6y8u0i2b2",
            ),
            FOLLOW,
            "a merged profile",
        ),
    ],
    inadmissible=[InadmissibleCase("phone", (TWILIO_STORE, twilio_settings("email")))],
)


def insider_users(items: Sequence[Item]) -> int:
    """Insider's batch size counts users, not items (FACTS.md §1)."""
    return len({canonical_json(item.locator) for item in items})


SOLE = {"error": "you cannot delete the sole identifier specified for a user: bad request"}
NO_USER = {"error": "no such user for these identifiers: no data"}


def insider_large(i: int) -> dict[str, Any]:
    values = [f"note-{i:06d}-{j}-" + "x" * 1000 for j in range(8)]
    return {
        "profile": {"uuid": f"uuid-large-{i:06d}"},
        "custom_attribute_values": {"notes": values},
    }


INSIDER = ConformanceCases(
    settings={"partner_name": "confbrand", "token_env": "INSIDER_TOKEN"},
    entries={
        "attributes": {
            "profile": {"email": "jane.conformance@old-domain.example"},
            "attributes": ["name", "surname"],
            "custom_attributes": ["loyalty_tier"],
        },
        "one-attribute": {
            "profile": {"email": "jane.conformance@old-domain.example"},
            "attributes": ["name"],
        },
        "attribute-values": {
            "profile": {"uuid": "uuid-conformance-1001"},
            "custom_attribute_values": {"favourite_shops": ["shop-conformance-77"]},
        },
        "identifier": {"identifiers": [{"type": "email", "value": "solo.conformance@example.com"}]},
        "phone-identifier": {"identifiers": [{"type": "phone_number", "value": "+6598765432"}]},
    },
    golden=GOLDEN / "insider.json",
    # FACTS.md §3: the profile read's documented 404 for a uuid nobody has
    preflight=[json_answer(404, NO_USER)],
    answers=[
        AnswerCase(ACCEPTED, "attributes", json_answer(200, {}), why="§2 200 {}"),
        AnswerCase(
            ACCEPTED,
            "attributes",
            json_answer(200, {"data": {"successful": {"count": 1}, "fail": {}}}),
            why="§2 the Postman body",
        ),
        AnswerCase(
            PROVES_NOTHING,
            "attributes",
            json_answer(200, {"data": {"fail": {"count": 1}}}),
            why="§2 200 listing failures",
        ),
        AnswerCase(TARGET_STOP, "attributes", json_answer(404, {"error": "not found"})),
        AnswerCase(
            TARGET_STOP,
            "attributes",
            json_answer(400, {"success": False, "message": "Partner is invalid."}),
        ),
        AnswerCase(
            TARGET_STOP, "attributes", json_answer(403, {"success": False, "message": "Denied."})
        ),
        AnswerCase(
            REJECTED, "attributes", json_answer(400, {"success": False, "message": "too big"})
        ),
        AnswerCase(ACCEPTED, "identifier", Answer(200, {}, None, json=False), why="§3 empty 200"),
        AnswerCase(REJECTED, "identifier", json_answer(400, SOLE), why="§3 sole identifier"),
        AnswerCase(
            CHECK,
            "identifier",
            json_answer(404, {"error": "no such user"}),
            settle=json_answer(404, NO_USER),
            settles_as=ABSENT,
            why="404, the profile read finds nobody",
        ),
        AnswerCase(
            CHECK,
            "identifier",
            json_answer(404, {"error": "no such user"}),
            settle=json_answer(200, {"attributes": {"email": "solo.conformance@example.com"}}),
            settles_as=PROVES_NOTHING,
            why="404, yet the profile read finds a user",
        ),
    ],
    bulk=lambda i: {"profile": {"uuid": f"uuid-bulk-{i:06d}"}, "attributes": ["name"]},
    # FACTS.md §3: the profile read
    reads=[
        ReadCase("one-attribute", json_answer(200, {"attributes": {"name": "Jane"}}), PRESENT),
        ReadCase("one-attribute", json_answer(200, {"attributes": {}}), ABSENT_SEEN),
        ReadCase("one-attribute", json_answer(404, NO_USER), ABSENT_SEEN, "no such user"),
        ReadCase(
            "identifier",
            json_answer(200, {"attributes": {"email": "solo.conformance@example.com"}}),
            PRESENT,
        ),
        ReadCase("identifier", json_answer(404, NO_USER), ABSENT_SEEN, "no such user"),
        ReadCase(
            "attribute-values", json_answer(200, {"attributes": {}}), UNVERIFIED, "custom prefix"
        ),
    ],
    large=insider_large,
    units=insider_users,
    csv=[
        CsvCase(
            ("email", "attribute"), ("jane.conformance@old-domain.example", "name"), "one-attribute"
        ),
        CsvCase(("type", "value"), ("email", "solo.conformance@example.com"), "identifier"),
    ],
)

CASES = {
    "segment": SEGMENT,
    "braze": BRAZE,
    "twilio_memory": TWILIO_MEMORY,
    "insider": INSIDER,
}
