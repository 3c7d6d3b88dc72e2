"""One adapter per vendor: its manifest rules (validate time) and its requests (apply time)."""

from __future__ import annotations

from reconciler.adapters.braze import BrazeRequests
from reconciler.adapters.braze_rules import BrazeRules
from reconciler.adapters.insider import InsiderRequests
from reconciler.adapters.insider_rules import InsiderRules
from reconciler.adapters.requests import RequestBuilder
from reconciler.adapters.rules import VendorRules
from reconciler.adapters.segment import SegmentRequests
from reconciler.adapters.segment_rules import SegmentRules
from reconciler.adapters.twilio_memory import TwilioMemoryRequests
from reconciler.adapters.twilio_memory_rules import TwilioMemoryRules
from reconciler.config import Target

RULES: dict[str, VendorRules] = {
    "segment": SegmentRules(),
    "braze": BrazeRules(),
    "twilio_memory": TwilioMemoryRules(),
    "insider": InsiderRules(),
}


def rules_for(target: Target) -> VendorRules:
    """A target's vendor rules, refined by its settings (identifier types, attributes)."""
    return RULES[target.vendor].for_target(target.settings)


REQUESTS: dict[str, RequestBuilder] = {
    "segment": SegmentRequests(),
    "braze": BrazeRequests(),
    "twilio_memory": TwilioMemoryRequests(),
    "insider": InsiderRequests(),
}
