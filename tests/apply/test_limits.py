"""Documented limits per vendor scope (reconciler/vendors/*/FACTS.md §4), lowered by a
target's rate_limit."""

from __future__ import annotations

import pytest

from reconciler.apply.engine import Engine
from reconciler.rates import DELETE, IDENTITY, READ, scope_and_rate
from reconciler.target import Target
from tests.apply.wire import BRAZE, INSIDER, SEGMENT, TWILIO, with_rate


def renamed(target: Target, name: str, **settings: str) -> Target:
    return Target(name, target.vendor, target.base_url, {**target.settings, **settings})


@pytest.mark.parametrize(
    ("target", "kind", "rate"),
    [
        (SEGMENT, DELETE, 100.0),  # 100 deletion requests/s per space
        (SEGMENT, READ, 100.0),  # Profile API reads: the same 100/s, perhaps shared
        (BRAZE, DELETE, 20_000 / 60),  # 20,000/min shared
        (BRAZE, READ, 250 / 60),  # /users/export/ids: 250/min
        (INSIDER, DELETE, 25_000 / 60),  # attribute delete, shared with upsert
        (INSIDER, IDENTITY, 1_000 / 60),  # identity delete: the stricter of the two documented
        (INSIDER, READ, 1_000 / 60),  # profile reads: 1,000 quota units/min
        (TWILIO, DELETE, 20.0),  # none published: a conservative default
    ],
)
def test_documented_rates(target, kind, rate):
    assert scope_and_rate(target, kind)[1] == pytest.approx(rate)


def test_a_target_rate_limit_lowers_but_never_raises_a_documented_limit():
    assert scope_and_rate(with_rate(SEGMENT, 30, 1.0))[1] == pytest.approx(30)
    assert scope_and_rate(with_rate(SEGMENT, 500, 1.0))[1] == pytest.approx(100)
    assert scope_and_rate(with_rate(BRAZE, 5_000, 60.0))[1] == pytest.approx(5_000 / 60)
    assert scope_and_rate(with_rate(INSIDER, 600, 60.0), IDENTITY)[1] == pytest.approx(10)


def test_twilio_rate_limit_replaces_the_default():
    assert scope_and_rate(with_rate(TWILIO, 50, 1.0))[1] == pytest.approx(50)


def test_scopes_segment_per_space_braze_per_instance_insider_per_partner():
    same_space = renamed(SEGMENT, "seg-2")
    other_space = renamed(SEGMENT, "seg-3", space_id="spa_other")
    assert scope_and_rate(SEGMENT)[0] == scope_and_rate(same_space)[0]
    assert scope_and_rate(SEGMENT)[0] != scope_and_rate(other_space)[0]
    assert scope_and_rate(BRAZE)[0] == scope_and_rate(renamed(BRAZE, "brz-2"))[0]
    other_partner = renamed(INSIDER, "ins-2", partner_name="otherbrand")
    assert scope_and_rate(INSIDER)[0] == scope_and_rate(renamed(INSIDER, "ins-3"))[0]
    assert scope_and_rate(INSIDER)[0] != scope_and_rate(other_partner)[0]
    # identity deletes have their own bucket, apart from attribute deletes
    assert scope_and_rate(INSIDER, IDENTITY)[0] != scope_and_rate(INSIDER, DELETE)[0]
    # Braze's export has its own budget; Segment reads share the deletes' (stricter)
    assert scope_and_rate(BRAZE, READ)[0] != scope_and_rate(BRAZE, DELETE)[0]
    assert scope_and_rate(SEGMENT, READ)[0] == scope_and_rate(SEGMENT, DELETE)[0]


def test_targets_sharing_a_scope_share_one_pacer():
    engine = Engine(writer=None, parallelism=1)  # type: ignore[arg-type]
    a = engine.pacer(SEGMENT)
    assert engine.pacer(renamed(SEGMENT, "seg-2")) is a
    assert engine.pacer(renamed(SEGMENT, "seg-3", space_id="spa_other")) is not a
    assert engine.pacer(INSIDER, IDENTITY) is not engine.pacer(INSIDER, DELETE)
