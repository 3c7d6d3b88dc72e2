"""Each vendor's read capability (refresh): what an answer shows about each item.

Present, absent or unverified, never guessed: an error, a page that is not the vendor's,
an ambiguous answer is unverified; only a documented answer confirms absence.
"""

from __future__ import annotations

from reconciler.vendors.api import ABSENT_SEEN, PRESENT, UNVERIFIED, Observation, VendorRequest
from reconciler.vendors.registry import vendor
from tests.apply.wire import (
    BRAZE,
    INSIDER,
    SEGMENT,
    TWILIO,
    answer,
    braze_item,
    insider_attribute,
    insider_identifier,
    insider_value,
    page,
    seg_item,
    twilio_item,
)

PROFILE = "mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa"
CANONICAL = "mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb"


def seen(results):
    return [r.seen if isinstance(r, Observation) else "follow" for r in results]


def test_segment_reads_one_profile_for_all_its_items_and_pages() -> None:
    reader = vendor("segment").reader
    items = [seg_item("u_1", "email", "a@x.example"), seg_item("u_1", "phone", "+15555550100")]
    items.append(seg_item("u_2", "email", "b@x.example"))
    batches = reader.read_batches([(f"fp{i}", it) for i, it in enumerate(items)])
    assert [len(b) for b in batches] == [2, 1]
    request = reader.read_request(SEGMENT, [it for _, it in batches[0]])
    assert request.method == "GET"
    assert request.path.endswith("/profiles/user_id:u_1/external_ids")
    assert request.query == {"include": "email,phone", "limit": "100"}
    first_page = answer(
        200,
        {
            "data": [{"type": "email", "id": "A@X.example"}],
            "cursor": {"has_more": True, "next": "map_100"},
        },
    )
    out = reader.observe(first_page, request, items[:2])
    assert out[0] == Observation(PRESENT)  # Segment lower-cases: present is the safe side
    assert isinstance(out[1], VendorRequest) and out[1].query["next"] == "map_100"
    last = answer(200, {"data": [], "cursor": {"has_more": False, "next": ""}})
    assert seen(reader.observe(last, out[1], items[1:2])) == [ABSENT_SEEN]
    gone = answer(404, {"error": {"code": "not_found", "message": "Profile was not found."}})
    assert seen(reader.observe(gone, request, items[:2])) == [ABSENT_SEEN, ABSENT_SEEN]
    for odd in (None, page(404), answer(500, {"error": {"code": "x", "message": "y"}})):
        assert seen(reader.observe(odd, request, items[:2])) == [UNVERIFIED, UNVERIFIED]


def test_braze_export_confirms_ids_and_never_judges_an_email_present() -> None:
    reader = vendor("braze").reader
    ids = [braze_item(external_id=f"e{i}") for i in range(3)]
    request = reader.read_request(BRAZE, ids)
    assert request.body["external_ids"] == ["e0", "e1", "e2"]
    assert "fields_to_export" in request.body
    got = answer(201, {"users": [{"external_id": "e0"}], "invalid_user_ids": ["e1"]})
    assert seen(reader.observe(got, request, ids)) == [PRESENT, ABSENT_SEEN, UNVERIFIED]
    email = braze_item(email="a@x.example", prioritization=["unidentified"])
    by_email = reader.read_request(BRAZE, [email])
    assert by_email.body["email_address"] == "a@x.example"
    nobody = answer(201, {"users": []})
    assert seen(reader.observe(nobody, by_email, [email])) == [ABSENT_SEEN]
    someone = answer(201, {"users": [{"email": "a@x.example"}]})
    # another user may hold the email: present would send a delete of another person
    assert seen(reader.observe(someone, by_email, [email])) == [UNVERIFIED]
    assert seen(reader.observe(page(200), request, ids)) == [UNVERIFIED] * 3
    batches = reader.read_batches([(f"f{i}", b) for i, b in enumerate([*ids, email, email])])
    assert sorted(len(b) for b in batches) == [1, 1, 3]


def test_twilio_reads_the_identifier_type_and_follows_a_merge_once() -> None:
    reader = vendor("twilio_memory").reader
    item = twilio_item(PROFILE, "phone")
    request = reader.read_request(TWILIO, [item])
    assert (request.method, request.path.rsplit("/", 2)[1:]) == ("GET", ["Identifiers", "phone"])
    assert seen(
        reader.observe(answer(200, {"idType": "phone", "values": ["+1"]}), request, [item])
    ) == [PRESENT]
    assert seen(
        reader.observe(answer(200, {"idType": "phone", "values": []}), request, [item])
    ) == [ABSENT_SEEN]
    error = {"code": 20404, "message": "Not found", "status": 404}
    assert seen(reader.observe(answer(404, error), request, [item])) == [ABSENT_SEEN]
    moved = answer(301, {"message": "moved"}, canonical_profile_id=CANONICAL)
    (follow,) = reader.observe(moved, request, [item])
    assert isinstance(follow, VendorRequest) and CANONICAL in follow.path
    assert seen(reader.observe(page(404), request, [item])) == [UNVERIFIED]


def test_insider_profile_read_for_attributes_values_and_identifiers() -> None:
    reader = vendor("insider").reader
    jane = {"email": "jane@x.example"}
    items = [
        insider_attribute(jane, "name"),
        insider_value(jane, "list_id", 2),
        insider_attribute(jane, "tier", custom=True),
    ]
    (batch,) = reader.read_batches([(f"f{i}", it) for i, it in enumerate(items)])
    request = reader.read_request(INSIDER, [it for _, it in batch])
    assert request.body == {"identifiers": jane, "attributes": ["c_tier", "list_id", "name"]}
    held = answer(200, {"attributes": {"name": "Jane", "list_id": [1, 2], "c_tier": "gold"}})
    assert seen(reader.observe(held, request, items)) == [PRESENT, PRESENT, PRESENT]
    gone = answer(200, {"attributes": {"list_id": [1, "2"], "iid": "x"}})
    # name left out: absent; the string "2" is not the number 2; a custom one left out
    # is unverified (the docs disagree on the custom prefix)
    assert seen(reader.observe(gone, request, items)) == [ABSENT_SEEN, ABSENT_SEEN, UNVERIFIED]
    no_user = answer(404, {"error": "no such user for these identifiers: no data"})
    assert seen(reader.observe(no_user, request, items)) == [ABSENT_SEEN] * 3
    ident = insider_identifier("email", "jane@x.example")
    by_id = reader.read_request(INSIDER, [ident])
    assert seen(reader.observe(answer(200, {"attributes": {"iid": "x"}}), by_id, [ident])) == [
        PRESENT
    ]
    assert seen(reader.observe(page(404), request, items)) == [UNVERIFIED] * 3
