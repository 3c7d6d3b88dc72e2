# ruff: noqa: E501  (the table reads best with each YAML snippet on one line)
"""`reconcile validate` through the real entry point: every bad input is one located line.

Each case in BAD is a small project (files written over the shared one from conftest),
the file and line the problem must be reported at, the JSON-path-like location and a
fragment of the message. A line of `None` means: the line of the file that carries the
marker comment `#<`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from reconciler.vendors.registry import known
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML, REPO_ROOT, manifest

MARK = "#<"
BAD_FILE = "specs/bad.yaml"


@dataclass(frozen=True)
class Bad:
    id: str
    files: dict[str, str | bytes]
    location: str
    message: str
    file: str = BAD_FILE
    line: int | None = None
    args: tuple[str, ...] = field(default=())

    def expected_line(self) -> int:
        if self.line is not None:
            return self.line
        text = self.files[self.file]
        assert isinstance(text, str)
        [line] = [i for i, t in enumerate(text.splitlines(), 1) if MARK in t]
        return line


def bad(id: str, text: str, location: str, message: str, line: int | None = None) -> Bad:
    """One bad manifest in specs/bad.yaml."""
    return Bad(id, {BAD_FILE: text}, location, message, line=line)


def cfg(id: str, old: str, new: str, location: str, message: str, line: int | None = None) -> Bad:
    """The shared config with `old` replaced by `new`."""
    assert old in CONFIG_YAML, old
    text = CONFIG_YAML.replace(old, new, 1)
    return Bad(id, {"reconciler.yaml": text}, location, message, file="reconciler.yaml", line=line)


def with_csv(
    id: str,
    target: str,
    csv: str | bytes,
    file: str,
    line: int | None,
    location: str,
    message: str,
    extra: str = "",
) -> Bad:
    """A manifest for `target` reading specs/rows.csv; the problem is in `file`."""
    text = manifest(extra + f"absent_csv: [rows.csv]  {MARK}\n", target=target)
    return Bad(id, {BAD_FILE: text, "specs/rows.csv": csv}, location, message, file=file, line=line)


SEG_OK = """
absent:
  - profile: {user_id: u_1}
    identifiers: [{type: email, value: a@example.com}]
"""
SEG = manifest(SEG_OK)
PID = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"
E0 = "spec.absent[0]"
I0 = "spec.absent[0].identifiers[0]"


def seg(body: str) -> str:
    return manifest(body, target="seg")


def braze(body: str, delete_profiles: bool = True) -> str:
    return manifest(("delete_profiles: true\n" if delete_profiles else "") + body, target="braze")


def mem(body: str) -> str:
    return manifest(body, target="mem")


def ins(body: str) -> str:
    return manifest(body, target="ins")


def seg_ident(ident: str) -> str:
    return seg(
        f"absent:\n  - profile: {{user_id: u_1}}\n    identifiers:\n      - {ident}  {MARK}\n"
    )


def mem_ident(ident: str) -> str:
    return mem(
        f"absent:\n  - profile: {{profile_id: {PID}}}\n    identifiers:\n      - {ident}  {MARK}\n"
    )


def ins_entry(entry: str) -> str:
    return ins(f"absent:\n  - {entry}  {MARK}\n")


def braze_profile(profile: str, delete_profiles: bool = True) -> str:
    return braze(f"absent:\n  - profile: {profile}  {MARK}\n", delete_profiles)


BAD: list[Bad] = [
    # -- the manifest schema: missing fields, wrong types, unknown keys ----------------------
    bad(
        "apiversion-missing",
        SEG.replace("apiVersion: reconciler/v1\n", ""),
        "",
        "apiVersion is required",
        line=1,
    ),
    bad(
        "apiversion-wrong",
        SEG.replace("reconciler/v1", f"reconciler/v2  {MARK}"),
        "apiVersion",
        "must be reconciler/v1",
    ),
    bad(
        "kind-wrong",
        SEG.replace("kind: Removal", f"kind: Deletion  {MARK}"),
        "kind",
        "must be Removal",
    ),
    bad(
        "document-is-a-list",
        "- apiVersion: reconciler/v1\n- kind: Removal\n",
        "",
        "must be a mapping, got a list",
        line=1,
    ),
    bad(
        "document-is-a-string",
        "\n\njust some words\n",
        "",
        "must be a mapping, got a string",
        line=3,
    ),
    bad(
        "metadata-not-a-mapping",
        SEG.replace("metadata:\n", f"metadata: crm-1  {MARK}\n", 1).replace(
            "  name: bad-input\n  owner: team-test\n  reason: a test of what validate accepts and refuses\n",
            "",
        ),
        "metadata",
        "must be a mapping, got a string",
    ),
    bad(
        "owner-missing",
        SEG.replace("metadata:", f"metadata:  {MARK}").replace("  owner: team-test\n", ""),
        "metadata",
        "owner is required",
    ),
    bad(
        "reason-missing",
        SEG.replace("metadata:", f"metadata:  {MARK}").replace(
            "  reason: a test of what validate accepts and refuses\n", ""
        ),
        "metadata",
        "reason is required",
    ),
    bad(
        "name-missing",
        SEG.replace("metadata:", f"metadata:  {MARK}").replace("  name: bad-input\n", ""),
        "metadata",
        "name is required",
    ),
    bad(
        "name-uppercase",
        SEG.replace("name: bad-input", f"name: CRM_4821  {MARK}"),
        "metadata.name",
        "must be lowercase letters",
    ),
    bad(
        "name-block-scalar-with-newline",
        SEG.replace("name: bad-input", f"name: |  {MARK}\n    bad-input"),
        "metadata.name",
        "must be lowercase letters",
    ),
    bad(
        "name-a-number",
        SEG.replace("name: bad-input", f"name: 4821  {MARK}"),
        "metadata.name",
        "must be a string, got a number (quote it",
    ),
    bad(
        "owner-blank",
        SEG.replace("owner: team-test", f'owner: "   "  {MARK}'),
        "metadata.owner",
        "must be non-empty text",
    ),
    bad(
        "metadata-typo",
        SEG.replace("  owner: team-test\n", f"  owner: team-test\n  onwer: team-x  {MARK}\n"),
        "metadata.onwer",
        "unknown key 'onwer' (allowed: due, name, owner, reason, regulation, requested_at, ticket)",
    ),
    bad(
        "top-level-unknown-key",
        SEG.replace("kind: Removal\n", f"kind: Removal\nlabels: {{team: crm}}  {MARK}\n"),
        "labels",
        "unknown key 'labels'",
    ),
    bad(
        "spec-missing",
        "apiVersion: reconciler/v1\nkind: Removal\nmetadata: {name: a, owner: o, reason: r}\n",
        "",
        "spec is required",
        line=1,
    ),
    bad(
        "spec-typo",
        seg(SEG_OK + f"absnet: []  {MARK}\n"),
        "spec.absnet",
        "unknown key 'absnet' (allowed: absent, absent_csv, delete_profiles, target)",
    ),
    bad("spec-declares-nothing", seg(""), "spec", "needs absent or absent_csv", line=7),
    bad(
        "target-missing",
        SEG.replace("spec:", f"spec:  {MARK}").replace("  target: seg\n", ""),
        "spec",
        "target is required",
    ),
    bad(
        "target-a-list",
        SEG.replace("target: seg", f"target: [seg]  {MARK}"),
        "spec.target",
        "must be a string, got a list",
    ),
    bad(
        "absent-a-mapping",
        seg(f"absent: {{profile: {{user_id: u_1}}}}  {MARK}\n"),
        "spec.absent",
        "must be a list, got a mapping",
    ),
    bad("entry-empty", seg(f"absent:\n  - {{}}  {MARK}\n"), E0, "must not be empty"),
    bad(
        "entry-a-string", seg(f"absent:\n  - u_1  {MARK}\n"), E0, "must be a mapping, got a string"
    ),
    bad(
        "entry-typo",
        seg(
            f"absent:\n  - profile: {{user_id: u_1}}\n    identifier: [{{type: email, value: a}}]  {MARK}\n"
        ),
        f"{E0}.identifier",
        "unknown key 'identifier'",
    ),
    bad(
        "identifiers-empty",
        seg(f"absent:\n  - profile: {{user_id: u_1}}\n    identifiers: []  {MARK}\n"),
        f"{E0}.identifiers",
        "must not be empty",
    ),
    bad("identifier-type-missing", seg_ident("{value: a@example.com}"), I0, "type is required"),
    bad(
        "identifier-typo",
        seg_ident("{type: email, vaule: a@example.com}"),
        f"{I0}.vaule",
        "unknown key 'vaule' (allowed: all_values, type, value)",
    ),
    bad(
        "value-unquoted-number",
        seg_ident("{type: phone, value: 15555550100}"),
        f"{I0}.value",
        "must be a string, got a number (quote it",
    ),
    bad("value-empty", seg_ident('{type: email, value: ""}'), f"{I0}.value", "must not be empty"),
    bad(
        "value-too-long",
        seg_ident("{type: email, value: " + "a" * 1025 + "}"),
        f"{I0}.value",
        "is longer than 1024 characters",
    ),
    bad(
        "value-a-date",
        seg_ident("{type: email, value: 2026-11-02}"),
        f"{I0}.value",
        "must be a string, got date",
    ),
    bad(
        "value-with-nul",
        seg_ident('{type: email, value: "a\\0@example.com"}'),
        f"{I0}.value",
        "must not contain control characters such as NUL, a line break or an escape code (only tab is allowed)",
    ),
    bad(
        "value-with-line-break",
        seg_ident('{type: email, value: "a@example.com\\r\\n"}'),
        f"{I0}.value",
        "must not contain control characters",
    ),
    bad(
        "locator-with-escape-code",
        seg(
            f'absent:\n  - profile: {{user_id: "u_1\\e[31m"}}  {MARK}\n    identifiers: [{{type: email, value: a}}]\n'
        ),
        f"{E0}.profile.user_id",
        "must not contain control characters",
    ),
    bad(
        "locator-with-c1-control",
        seg(
            f'absent:\n  - profile: {{user_id: "u_1\\x85"}}  {MARK}\n    identifiers: [{{type: email, value: a}}]\n'
        ),
        f"{E0}.profile.user_id",
        "must not contain control characters",
    ),
    bad(
        "alias-with-bell",
        braze_profile('{user_alias: {alias_name: "v\\a", alias_label: lt}}'),
        f"{E0}.profile.user_alias.alias_name",
        "must not contain control characters",
    ),
    bad(
        "attribute-value-with-nul",
        ins_entry('{profile: {uuid: u}, attribute_values: {list_id: ["a\\0"]}}'),
        f"{E0}.attribute_values.list_id[0]",
        "must not contain control characters",
    ),
    bad(
        "locator-typo",
        seg(
            f"absent:\n  - profile: {{userid: u_1}}  {MARK}\n    identifiers: [{{type: email, value: a}}]\n"
        ),
        f"{E0}.profile.userid",
        "unknown key 'userid'",
    ),
    bad(
        "locator-empty",
        seg(f"absent:\n  - profile: {{}}  {MARK}\n    identifiers: [{{type: email, value: a}}]\n"),
        f"{E0}.profile",
        "must not be empty",
    ),
    bad(
        "delete-profiles-a-string",
        braze("absent:\n  - profile: {external_id: e}\n", False).replace(
            "target: braze\n", f"target: braze\n  delete_profiles: yes please  {MARK}\n"
        ),
        "spec.delete_profiles",
        "must be true or false, got a string",
    ),
    bad(
        "absent-csv-not-csv",
        seg(f"absent_csv: [emails.txt]  {MARK}\n"),
        "spec.absent_csv[0]",
        "must be a path to a .csv file",
    ),
    bad(
        "absent-csv-empty", seg(f"absent_csv: []  {MARK}\n"), "spec.absent_csv", "must not be empty"
    ),
    bad(
        "prioritization-unknown-value",
        braze_profile("{email: a@x, prioritization: [newest]}"),
        f"{E0}.profile.prioritization[0]",
        "must be one of identified, unidentified, most_recently_updated, got 'newest'",
    ),
    bad(
        "prioritization-repeated",
        braze_profile("{email: a@x, prioritization: [identified, identified]}"),
        f"{E0}.profile.prioritization",
        "must not repeat a value",
    ),
    bad(
        "user-alias-no-label",
        braze_profile("{user_alias: {alias_name: visitor}}"),
        f"{E0}.profile.user_alias",
        "alias_label is required",
    ),
    bad(
        "custom-locator-two-ids",
        ins_entry("profile: {custom: {a: '1', b: '2'}}"),
        f"{E0}.profile.custom",
        "must hold exactly one custom identifier",
    ),
    bad(
        "attribute-values-empty-list",
        ins_entry("{profile: {uuid: u}, attribute_values: {list_id: []}}"),
        f"{E0}.attribute_values.list_id",
        "must not be empty",
    ),
    bad(
        "attribute-value-a-mapping",
        ins_entry("{profile: {uuid: u}, attribute_values: {list_id: [{a: 1}]}}"),
        f"{E0}.attribute_values.list_id[0]",
        "got a mapping",
    ),
    # -- YAML itself ------------------------------------------------------------------------
    bad(
        "yaml-unclosed-bracket",
        SEG.replace(
            "[{type: email, value: a@example.com}]", "[{type: email, value: a@example.com}"
        ),
        "",
        "YAML syntax error",
        line=11,
    ),
    bad("yaml-tab-indent", SEG.replace("  owner:", "\towner:"), "", "YAML syntax error", line=5),
    bad("yaml-bad-indent", SEG.replace("  owner:", "    owner:"), "", "YAML syntax error", line=5),
    bad(
        "yaml-unterminated-quote",
        SEG.replace("owner: team-test", "owner: 'team-test"),
        "",
        "YAML syntax error",
        line=5,
    ),
    bad(
        "yaml-duplicate-key",
        SEG.replace("  target: seg\n", f"  target: seg\n  target: braze  {MARK}\n"),
        "spec.target",
        "duplicate key",
    ),
    bad(
        "yaml-duplicate-key-second-document",
        SEG
        + "---\n"
        + SEG.replace("bad-input", "other").replace(
            "  owner: team-test\n", f"  owner: team-test\n  owner: team-x  {MARK}\n"
        ),
        "metadata.owner",
        "duplicate key",
    ),
    bad(
        "yaml-bad-int-tag",
        SEG.replace("owner: team-test", f"owner: !!int team  {MARK}"),
        "",
        "cannot read 'team' as !!int",
    ),
    bad(
        "yaml-unknown-tag",
        SEG.replace("owner: team-test", f"owner: !vault crm/owner  {MARK}"),
        "",
        "could not determine a constructor for the tag '!vault'",
    ),
    bad(
        "yaml-recursive-alias",
        SEG.replace("owner: team-test", f"owner: &o [*o]  {MARK}"),
        "",
        "an alias refers to a node that contains it",
    ),
    bad(
        "yaml-control-character",
        SEG.replace("owner: team-test", "owner: team\x07test"),
        "",
        "unacceptable character #x0007",
        line=5,
    ),
    bad(
        "yaml-undefined-alias",
        SEG.replace("owner: team-test", f"owner: *team  {MARK}"),
        "",
        "found undefined alias 'team'",
    ),
    # -- across files, and targets ----------------------------------------------------------
    Bad(
        "duplicate-name-across-files",
        {
            "specs/a.yaml": manifest(SEG_OK, name="dup"),
            "specs/b.yaml": manifest(SEG_OK, name="dup"),
        },
        "metadata.name",
        "duplicate manifest name 'dup': also declared in specs/a.yaml:4",
        file="specs/b.yaml",
        line=4,
    ),
    bad(
        "duplicate-name-same-file",
        SEG + "---\n" + SEG,
        "metadata.name",
        "duplicate manifest name 'bad-input': also declared in specs/bad.yaml:4",
        line=16,
    ),
    bad(
        "unknown-target",
        manifest(SEG_OK, target="segment-prd"),
        "spec.target",
        "unknown target 'segment-prd' (targets in reconciler.yaml: braze, ins, mem, seg)",
        line=8,
    ),
    # -- segment ----------------------------------------------------------------------------
    bad(
        "segment-no-user-id",
        seg(
            f"absent:\n  - profile: {{email: a@x}}  {MARK}\n    identifiers: [{{type: phone, value: '+1555'}}]\n"
        ),
        f"{E0}.profile",
        "user_id is required for segment targets",
    ),
    bad(
        "segment-locator-not-user-id",
        seg(
            f"absent:\n  - profile:\n      user_id: u_1\n      email: a@x  {MARK}\n    identifiers: [{{type: phone, value: '+1555'}}]\n"
        ),
        f"{E0}.profile.email",
        "segment locates profiles only by user_id",
    ),
    bad(
        "segment-group-id",
        seg_ident("{type: group_id, value: g_1}"),
        f"{I0}.type",
        "segment never deletes group_id",
    ),
    bad(
        "segment-lookup-user-id",
        seg_ident("{type: user_id, value: u_1}"),
        I0,
        "cannot delete the user_id that locates the profile",
    ),
    bad(
        "segment-all-values",
        seg_ident("{type: email, all_values: true}"),
        f"{I0}.all_values",
        "segment deletes one named value: give value",
    ),
    bad(
        "segment-no-value", seg_ident("{type: email}"), I0, "value is required for segment targets"
    ),
    bad(
        "segment-uppercase-type",
        seg_ident("{type: Email, value: a@x}"),
        f"{I0}.type",
        "identifier types are lowercase in segment ('Email')",
    ),
    bad(
        "segment-type-with-space",
        seg_ident("{type: 'e mail', value: a@x}"),
        f"{I0}.type",
        "'e mail' is not a segment identifier type: lowercase letters, digits, '_' and '.', starting with a letter or digit",
    ),
    bad(
        "segment-type-trailing-space",
        seg_ident("{type: 'email ', value: a@x}"),
        f"{I0}.type",
        "'email ' is not a segment identifier type",
    ),
    bad(
        "segment-type-with-dash",
        seg_ident("{type: ios-idfa, value: a}"),
        f"{I0}.type",
        "'ios-idfa' is not a segment identifier type",
    ),
    bad(
        "segment-type-starting-with-dot",
        seg_ident("{type: .email, value: a}"),
        f"{I0}.type",
        "'.email' is not a segment identifier type",
    ),
    bad(
        "segment-type-uppercase-with-space",
        seg_ident("{type: 'E Mail', value: a}"),
        f"{I0}.type",
        "'E Mail' is not a segment identifier type",
    ),
    bad(
        "segment-delete-profiles",
        seg(f"delete_profiles: true  {MARK}\n" + SEG_OK),
        "spec.delete_profiles",
        "segment cannot delete profiles, only identifiers",
    ),
    bad(
        "segment-no-profile",
        seg(f"absent:\n  - identifiers: [{{type: email, value: a}}]  {MARK}\n"),
        E0,
        "profile is required for segment targets",
    ),
    bad(
        "segment-no-identifiers",
        seg(f"absent:\n  - profile: {{user_id: u_1}}  {MARK}\n"),
        E0,
        "identifiers is required for segment targets",
    ),
    bad(
        "segment-attributes",
        seg(
            f"absent:\n  - profile: {{user_id: u_1}}\n    identifiers: [{{type: email, value: a}}]\n    attributes: [name]  {MARK}\n"
        ),
        f"{E0}.attributes",
        "not supported for segment targets",
    ),
    # -- braze ------------------------------------------------------------------------------
    bad(
        "braze-no-delete-profiles",
        braze("absent:\n  - profile: {external_id: e}\n", False),
        "spec",
        "set spec.delete_profiles: true",
        line=7,
    ),
    bad(
        "braze-delete-profiles-false",
        braze("delete_profiles: false\nabsent:\n  - profile: {external_id: e}\n", False),
        # the schema's if/then says it where the value is
        "spec.delete_profiles",
        "deleting the whole user profile (irreversible)",
        line=9,
    ),
    bad(
        "braze-two-locators",
        braze_profile("{external_id: e, braze_id: b}"),
        f"{E0}.profile",
        "give exactly one of external_id, braze_id, user_alias, email, phone, not external_id and braze_id",
    ),
    bad(
        "braze-email-no-prioritization",
        braze_profile("{email: a@x}"),
        f"{E0}.profile",
        "prioritization is required when deleting by email",
    ),
    bad(
        "braze-phone-no-prioritization",
        braze_profile("{phone: '+15555550100'}"),
        f"{E0}.profile",
        "prioritization is required when deleting by phone",
    ),
    bad(
        "braze-identified-and-unidentified",
        braze_profile("{email: a@x, prioritization: [identified, unidentified]}"),
        f"{E0}.profile.prioritization",
        "only one of identified and unidentified may appear",
    ),
    bad(
        "braze-prioritization-on-external-id",
        braze_profile("{external_id: e, prioritization: [identified]}"),
        f"{E0}.profile.prioritization",
        "prioritization applies only to email and phone, not external_id",
    ),
    bad(
        "braze-identifiers",
        braze(
            f"absent:\n  - profile: {{external_id: e}}\n    identifiers: [{{type: email, value: a}}]  {MARK}\n"
        ),
        f"{E0}.identifiers",
        "not supported for braze targets",
    ),
    bad(
        "braze-user-id-locator",
        braze_profile("{user_id: u_1}"),
        f"{E0}.profile.user_id",
        "'user_id' cannot locate a braze profile",
    ),
    bad(
        "braze-no-profile",
        braze(f"absent:\n  - attributes: [name]  {MARK}\n"),
        E0,
        "profile is required for braze targets",
    ),
    # -- twilio_memory ----------------------------------------------------------------------
    bad(
        "memory-named-value",
        mem_ident("{type: phone, value: '+15555550100'}"),
        f"{I0}.value",
        "removeAll=true) or one value the service picks by the store's limitPolicy",
    ),
    bad("memory-no-all-values", mem_ident("{type: phone}"), I0, "all_values: true is required"),
    bad(
        "memory-all-values-false",
        mem_ident("{type: phone, all_values: false}"),
        I0,
        "all_values: true is required",
    ),
    bad(
        "memory-bad-profile-id",
        mem(
            f"absent:\n  - profile: {{profile_id: mem_profile_123}}  {MARK}\n    identifiers: [{{type: phone, all_values: true}}]\n"
        ),
        f"{E0}.profile.profile_id",
        "does not match ^mem_profile_[0-7][0-9a-z]{25}$",
    ),
    bad(
        "memory-profile-id-trailing-newline",
        mem(
            f'absent:\n  - profile: {{profile_id: "{PID}\\n"}}  {MARK}\n    identifiers: [{{type: phone, all_values: true}}]\n'
        ),
        f"{E0}.profile.profile_id",
        "must not contain control characters",
    ),
    bad(
        "memory-type-too-short",
        mem_ident("{type: p, all_values: true}"),
        f"{I0}.type",
        "'p' is not a Memory identifier type (2-30 letters, digits, '-', '_')",
    ),
    bad(
        "memory-type-with-dot",
        mem_ident("{type: e.mail, all_values: true}"),
        f"{I0}.type",
        "is not a Memory identifier type",
    ),
    bad(
        "memory-type-too-long",
        mem_ident("{type: " + "x" * 31 + ", all_values: true}"),
        f"{I0}.type",
        "is not a Memory identifier type",
    ),
    bad(
        "memory-user-id-locator",
        mem(
            f"absent:\n  - profile: {{user_id: u_1}}  {MARK}\n    identifiers: [{{type: phone, all_values: true}}]\n"
        ),
        f"{E0}.profile.user_id",
        "twilio_memory locates profiles only by profile_id",
    ),
    bad(
        "memory-delete-profiles",
        mem(
            f"delete_profiles: true  {MARK}\nabsent:\n  - profile: {{profile_id: {PID}}}\n    identifiers: [{{type: phone, all_values: true}}]\n"
        ),
        "spec.delete_profiles",
        "twilio_memory targets remove identifiers, not profiles",
    ),
    bad(
        "memory-attributes",
        mem(
            f"absent:\n  - profile: {{profile_id: {PID}}}\n    identifiers: [{{type: phone, all_values: true}}]\n    attributes: [x]  {MARK}\n"
        ),
        f"{E0}.attributes",
        "not supported for twilio_memory targets",
    ),
    # -- insider ----------------------------------------------------------------------------
    bad(
        "insider-phone-locator-not-e164",
        ins_entry("{profile: {phone_number: '98765432'}, attributes: [name]}"),
        f"{E0}.profile.phone_number",
        "is not an E.164 phone number",
    ),
    bad(
        "insider-attribute-is-identifier",
        ins_entry("{profile: {uuid: u}, attributes: [name, email]}"),
        f"{E0}.attributes[1]",
        "'email' is an identifier attribute: the attribute-delete API refuses it",
    ),
    bad(
        "insider-attribute-value-is-identifier",
        ins_entry("{profile: {uuid: u}, attribute_values: {phone_number: ['+6598765432']}}"),
        f"{E0}.attribute_values.phone_number",
        "'phone_number' is an identifier attribute",
    ),
    bad(
        "insider-custom-attribute-is-the-locator",
        ins_entry("{profile: {custom: {loyalty_id: L1}}, custom_attributes: [loyalty_id]}"),
        f"{E0}.custom_attributes[0]",
        "'loyalty_id' is this user's custom identifier",
    ),
    bad(
        "insider-unknown-identifier-type",
        ins_entry("{identifiers: [{type: fax, value: '1'}]}"),
        f"{I0}.type",
        "unknown insider identifier type 'fax' (use email, phone_number, uuid or custom.<name>)",
    ),
    bad(
        "insider-identifier-phone-not-e164",
        ins_entry("{identifiers: [{type: phone_number, value: '+0065'}]}"),
        f"{I0}.value",
        "is not an E.164 phone number",
    ),
    bad(
        "insider-identifier-no-value",
        ins_entry("{identifiers: [{type: email}]}"),
        I0,
        "value is required for insider identifiers",
    ),
    bad(
        "insider-identifier-all-values",
        ins_entry("{identifiers: [{type: email, value: a, all_values: true}]}"),
        f"{I0}.all_values",
        "insider deletes one named identifier value",
    ),
    bad(
        "insider-attributes-without-profile",
        ins_entry("{attributes: [name]}"),
        E0,
        "profile is required to remove attributes",
    ),
    bad(
        "insider-nothing-to-remove",
        ins_entry("{profile: {uuid: u}}"),
        E0,
        "say what must be absent",
    ),
    bad(
        "insider-two-locators",
        ins_entry("{profile: {uuid: u, email: e}, attributes: [name]}"),
        f"{E0}.profile",
        "give exactly one of insider_id, email, phone_number, uuid, custom",
    ),
    bad(
        "insider-delete-profiles",
        ins(
            f"delete_profiles: true  {MARK}\nabsent:\n  - {{profile: {{uuid: u}}, attributes: [name]}}\n"
        ),
        "spec.delete_profiles",
        "insider targets remove attributes and identifiers, not whole profiles",
    ),
    bad(
        "insider-prioritization",
        ins_entry("{profile: {email: e, prioritization: [identified]}, attributes: [name]}"),
        f"{E0}.profile.prioritization",
        "prioritization is a braze setting",
    ),
    bad(
        "insider-custom-locator-empty-name",
        ins_entry("{profile: {custom: {'': L1}}, attributes: [name]}"),
        f"{E0}.profile.custom.",
        "custom identifier name must not be empty or only spaces",
    ),
    bad(
        "insider-custom-locator-blank-name",
        ins_entry("{profile: {custom: {'  ': L1}}, attributes: [name]}"),
        f"{E0}.profile.custom.  ",
        "custom identifier name must not be empty or only spaces",
    ),
    bad(
        "insider-custom-locator-padded-name",
        ins_entry("{profile: {custom: {' loyalty_id': L1}}, attributes: [name]}"),
        f"{E0}.profile.custom. loyalty_id",
        "custom identifier name has leading or trailing spaces",
    ),
    bad(
        "insider-identifier-type-custom-no-name",
        ins_entry("{identifiers: [{type: 'custom.', value: L1}]}"),
        f"{I0}.type",
        "custom identifier type needs a name after 'custom.' (custom.<name>, e.g. custom.loyalty_id)",
    ),
    bad(
        "insider-identifier-type-custom-blank-name",
        ins_entry("{identifiers: [{type: 'custom. ', value: L1}]}"),
        f"{I0}.type",
        "custom identifier name must not be empty or only spaces",
    ),
    bad(
        "insider-custom-attribute-empty",
        ins_entry("{profile: {uuid: u}, custom_attributes: ['']}"),
        f"{E0}.custom_attributes[0]",
        "must not be empty",
    ),
    bad(
        "insider-custom-attribute-blank",
        ins_entry("{profile: {uuid: u}, custom_attributes: [tier, '   ']}"),
        f"{E0}.custom_attributes[1]",
        "custom attribute name must not be empty or only spaces",
    ),
    bad(
        "insider-custom-attribute-values-empty-name",
        ins_entry("{profile: {uuid: u}, custom_attribute_values: {'': [x]}}"),
        f"{E0}.custom_attribute_values.",
        "custom attribute name must not be empty or only spaces",
    ),
    bad(
        "insider-attribute-padded",
        ins_entry("{profile: {uuid: u}, attributes: ['name ']}"),
        f"{E0}.attributes[0]",
        "attribute name has leading or trailing spaces",
    ),
    bad(
        "insider-attribute-name-with-newline",
        ins_entry('{profile: {uuid: u}, attribute_values: {"list\\nid": [1]}}'),
        f"{E0}.attribute_values.list\\nid",
        "attribute name contains a control character (U+000A)",
    ),
    bad(
        "insider-identifier-deleted-and-locating-attributes-same-entry",
        ins_entry(
            "{profile: {email: a@x}, attributes: [name], identifiers: [{type: email, value: a@x}]}"
        ),
        f"{E0}.profile",
        "this user is located by the email that is deleted as an identifier at specs/bad.yaml:10 "
        "(spec.absent[0].identifiers[0]), in the same manifest: once the identifier is deleted, "
        "the attribute delete can no longer find the user. Split them into two manifests applied "
        "one after the other: first remove the attributes, then delete the identifier",
    ),
    bad(
        "insider-identifier-deleted-and-locating-attributes-two-entries",
        ins(
            "absent:\n"
            "  - identifiers:\n"
            "      - {type: phone_number, value: '+6598765432'}\n"
            "      - {type: custom.loyalty_id, value: L1}\n"
            f"  - {{profile: {{custom: {{loyalty_id: L1}}}}, custom_attribute_values: {{tags: [x]}}}}  {MARK}\n"
        ),
        "spec.absent[1].profile",
        "located by the custom identifier loyalty_id that is deleted as an identifier at "
        "specs/bad.yaml:12 (spec.absent[0].identifiers[1])",
    ),
    # -- CSV sources ------------------------------------------------------------------------
    bad(
        "csv-missing",
        seg(f"absent_csv: [missing.csv]  {MARK}\n"),
        "spec.absent_csv[0]",
        "specs/missing.csv: no such file",
    ),
    bad(
        "csv-path-with-nul",
        seg(f'absent_csv: ["a\\0b.csv"]  {MARK}\n'),
        "spec.absent_csv[0]",
        "cannot read: embedded null byte",
    ),
    Bad(
        "csv-is-a-folder",
        {BAD_FILE: seg(f"absent_csv: [rows.csv]  {MARK}\n"), "specs/rows.csv/readme.txt": "x"},
        "spec.absent_csv[0]",
        "specs/rows.csv: is a folder, not a regular file",
    ),
    with_csv(
        "csv-bad-header",
        "seg",
        "user,type,value\nu_1,email,a\n",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: line 1: header ['user', 'type', 'value'] does not fit a segment target (expected columns: user_id,type,value)",
    ),
    with_csv(
        "csv-header-of-another-vendor",
        "braze",
        "user_id,type,value\nu_1,email,a\n",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "does not fit a braze target",
        extra="delete_profiles: true\n",
    ),
    with_csv(
        "csv-header-repeats-a-column",
        "seg",
        "user_id,type,value,type\n",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: line 1: header repeats a column",
    ),
    with_csv(
        "csv-empty-file",
        "seg",
        "",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: empty file: a header row is required",
    ),
    with_csv(
        "csv-unterminated-quote",
        "seg",
        'user_id,type,value\nu_1,email,"a@x\n',
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: line 2: unexpected end of data",
    ),
    with_csv(
        "csv-not-utf8",
        "seg",
        b"user_id,type,value\nu_1,email,caf\xe9@x\n",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: line",
    ),
    with_csv(
        "csv-empty-cell",
        "seg",
        "user_id,type,value\nu_1,email,a@x\nu_2,email,\n",
        "specs/rows.csv",
        3,
        "value",
        "must not be empty",
    ),
    with_csv(
        "csv-too-few-columns",
        "seg",
        "user_id,type,value\nu_1,email\n",
        "specs/rows.csv",
        2,
        "row",
        "has 2 columns, the header has 3",
    ),
    with_csv(
        "csv-too-many-columns",
        "seg",
        "user_id,type,value\n\nu_1,email,a,b\n",
        "specs/rows.csv",
        3,
        "row",
        "has 4 columns, the header has 3",
    ),
    with_csv(
        "csv-padded-cell",
        "seg",
        "user_id,type,value\nu_1,email, a@x\n",
        "specs/rows.csv",
        2,
        "value",
        "has leading or trailing spaces",
    ),
    with_csv(
        "csv-cell-too-long",
        "seg",
        "user_id,type,value\nu_1,email," + "a" * 1025 + "\n",
        "specs/rows.csv",
        2,
        "value",
        "is longer than 1024 characters",
    ),
    with_csv(
        "csv-segment-group-id",
        "seg",
        "user_id,type,value\nu_1,email,a\nu_1,group_id,g\n",
        "specs/rows.csv",
        3,
        "type",
        "segment never deletes group_id",
    ),
    with_csv(
        "csv-segment-lookup-user-id",
        "seg",
        "user_id,type,value\nu_1,user_id,u_1\n",
        "specs/rows.csv",
        2,
        "row",
        "cannot delete the user_id that locates the profile",
    ),
    with_csv(
        "csv-braze-identified-and-unidentified",
        "braze",
        "email,prioritization\na@x,identified unidentified\n",
        "specs/rows.csv",
        2,
        "prioritization",
        "only one of identified and unidentified",
        extra="delete_profiles: true\n",
    ),
    with_csv(
        "csv-braze-unknown-priority",
        "braze",
        "phone,prioritization\n+15555550100,newest\n",
        "specs/rows.csv",
        2,
        "prioritization",
        "unknown value 'newest'",
        extra="delete_profiles: true\n",
    ),
    with_csv(
        "csv-memory-bad-profile-id",
        "mem",
        "profile_id,type\nmem_profile_x,phone\n",
        "specs/rows.csv",
        2,
        "profile_id",
        "does not match ^mem_profile_",
    ),
    with_csv(
        "csv-memory-bad-type",
        "mem",
        f"profile_id,type\n{PID},e.mail\n",
        "specs/rows.csv",
        2,
        "type",
        "is not a Memory identifier type",
    ),
    with_csv(
        "csv-insider-identifier-phone",
        "ins",
        "type,value\nphone_number,0065987\n",
        "specs/rows.csv",
        2,
        "value",
        "is not an E.164 phone number",
    ),
    with_csv(
        "csv-insider-identifier-type",
        "ins",
        "type,value\nfax,123\n",
        "specs/rows.csv",
        2,
        "type",
        "unknown insider identifier type 'fax'",
    ),
    with_csv(
        "csv-insider-phone-locator",
        "ins",
        "phone_number,attribute\n12345,name\n",
        "specs/rows.csv",
        2,
        "phone_number",
        "is not an E.164 phone number",
    ),
    with_csv(
        "csv-insider-identifier-attribute",
        "ins",
        "email,attribute\na@x,uuid\n",
        "specs/rows.csv",
        2,
        "attribute",
        "'uuid' is an identifier attribute",
    ),
    with_csv(
        "csv-insider-custom-identifier-attribute",
        "ins",
        "custom.loyalty_id,custom_attribute,value\nL1,loyalty_id,L1\n",
        "specs/rows.csv",
        2,
        "custom_attribute",
        "'loyalty_id' is this user's custom identifier",
    ),
    with_csv(
        "csv-nul-in-cell",
        "seg",
        "user_id,type,value\nu_1,email,a@x\nu_2,email,b\x00@x\n",
        "specs/rows.csv",
        3,
        "value",
        "contains a control character (U+0000); only tab is allowed",
    ),
    with_csv(
        "csv-line-break-in-quoted-cell",
        "seg",
        'user_id,type,value\nu_1,email,"a@x\nb@x"\nu_2,email,c@x\n',
        "specs/rows.csv",
        2,
        "value",
        "contains a control character (U+000A)",
    ),
    with_csv(
        "csv-escape-code-in-cell",
        "ins",
        "email,attribute\na@x,na\x1b[0mme\n",
        "specs/rows.csv",
        2,
        "attribute",
        "contains a control character (U+001B)",
    ),
    with_csv(
        "csv-del-in-locator",
        "mem",
        f"profile_id,type\n{PID}\x7f,phone\n",
        "specs/rows.csv",
        2,
        "profile_id",
        "contains a control character (U+007F)",
    ),
    with_csv(
        "csv-segment-type-with-space",
        "seg",
        "user_id,type,value\nu_1,e mail,a\n",
        "specs/rows.csv",
        2,
        "type",
        "'e mail' is not a segment identifier type",
    ),
    with_csv(
        "csv-insider-identifier-type-custom-no-name",
        "ins",
        "type,value\ncustom.,L1\n",
        "specs/rows.csv",
        2,
        "type",
        "custom identifier type needs a name after 'custom.'",
    ),
    with_csv(
        "csv-insider-custom-column-no-name",
        "ins",
        "custom.,attribute\nL1,name\n",
        BAD_FILE,
        None,
        "spec.absent_csv[0]",
        "specs/rows.csv: line 1: column 'custom.': custom identifier name must not be empty or only spaces",
    ),
    with_csv(
        "csv-insider-identifier-deleted-and-locating-attributes",
        "ins",
        "email,attribute\nb@x,name\na@x,city\n",
        "specs/rows.csv",
        3,
        "email",
        "located by the email that is deleted as an identifier at specs/bad.yaml:10 "
        "(spec.absent[0].identifiers[0]), in the same manifest",
        extra="absent:\n  - identifiers: [{type: email, value: a@x}]\n",
    ),
    # -- reconciler.yaml --------------------------------------------------------------------
    cfg(
        "config-partner-name-uppercase",
        "partner_name: mybrand",
        f"partner_name: MyBrand  {MARK}",
        "targets.ins.partner_name",
        "must be lowercase (Insider requires a lowercase X-PARTNER-NAME)",
    ),
    cfg(
        "config-partner-name-trailing-newline",
        "partner_name: mybrand",
        f'partner_name: "mybrand\\n"  {MARK}',
        "targets.ins.partner_name",
        "must be lowercase",
    ),
    cfg(
        "config-bad-store-id",
        "store_id: mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4",
        f"store_id: store_123  {MARK}",
        "targets.mem.store_id",
        "must match ^mem_(store|service)_[0-7][0-9a-z]{25}$",
    ),
    cfg(
        "config-http-base-url",
        "base_url: https://rest.iad-01.braze.com",
        f"base_url: http://rest.iad-01.braze.com  {MARK}",
        "targets.braze.base_url",
        "plain http:// is refused except on a loopback host",
    ),
    cfg(
        "config-http-any-address",
        "space_id: spa_test1",
        f"space_id: spa_test1\n    base_url: http://0.0.0.0:8080  {MARK}",
        "targets.seg.base_url",
        "plain http:// is refused",
    ),
    cfg(
        "config-base-url-not-a-url",
        "base_url: https://rest.iad-01.braze.com",
        f"base_url: rest.iad-01.braze.com  {MARK}",
        "targets.braze.base_url",
        "must be an absolute http(s) URL",
    ),
    cfg(
        "config-base-url-broken-ipv6",
        "base_url: https://rest.iad-01.braze.com",
        f"base_url: http://[::1  {MARK}",
        "targets.braze.base_url",
        "is not a valid URL",
    ),
    cfg(
        "config-version-2",
        "version: 1",
        f"version: 2  {MARK}",
        "version",
        "must be 1 (the only config version)",
    ),
    cfg("config-version-missing", "version: 1\n", "", "", "version is required", line=1),
    cfg(
        "config-top-level-typo",
        "ledger:",
        f"legder:  {MARK}",
        "legder",
        "unknown key 'legder' (allowed: ledger, max_deletions, sources, specs, targets, version)",
    ),
    cfg(
        "config-ledger-typo",
        "  path: state/ledger",
        f"  path: state/ledger\n  keyenv: KEY  {MARK}",
        "ledger.keyenv",
        "unknown key 'keyenv'",
    ),
    cfg(
        "config-target-typo",
        "token_env: SEGMENT_TOKEN",
        f"tokn_env: SEGMENT_TOKEN  {MARK}",
        "targets.seg.tokn_env",
        "unknown key 'tokn_env'",
    ),
    cfg(
        "config-unknown-vendor",
        "vendor: segment",
        f"vendor: mparticle  {MARK}",
        "targets.seg.vendor",
        f"unknown vendor 'mparticle' (installed: {known()})",
    ),
    cfg(
        "config-braze-needs-base-url",
        "  braze:\n    vendor: braze\n    base_url: https://rest.iad-01.braze.com\n",
        f"  braze:  {MARK}\n    vendor: braze\n",
        "targets.braze",
        "base_url is required",
    ),
    cfg(
        "config-region",
        "space_id: spa_test1",
        f"space_id: spa_test1\n    region: asia  {MARK}",
        "targets.seg.region",
        "must be one of us, eu, got 'asia'",
    ),
    cfg(
        "config-secret-instead-of-env-name",
        "token_env: SEGMENT_TOKEN",
        f"token_env: sk_live abc123  {MARK}",
        "targets.seg.token_env",
        "must be the NAME of an environment variable",
    ),
    cfg(
        "config-target-name",
        "  seg:\n",
        f"  Seg Prod:  {MARK}\n",
        "targets.Seg Prod",
        "invalid name 'Seg Prod': target names are lowercase",
    ),
    cfg(
        "config-rate-limit-per-hour",
        "token_env: INSIDER_REQUEST_TOKEN",
        f"token_env: INSIDER_REQUEST_TOKEN\n    rate_limit: {{requests: 10, per: hour}}  {MARK}",
        "targets.ins.rate_limit.per",
        "must be one of second, minute, got 'hour'",
    ),
    cfg(
        "config-rate-limit-zero",
        "token_env: INSIDER_REQUEST_TOKEN",
        f"token_env: INSIDER_REQUEST_TOKEN\n    rate_limit: {{requests: 0, per: second}}  {MARK}",
        "targets.ins.rate_limit.requests",
        "must be at least 1",
    ),
    cfg(
        "config-space-id-a-number",
        "space_id: spa_test1",
        f"space_id: 12345  {MARK}",
        "targets.seg.space_id",
        "must be a string, got a number (quote it",
    ),
    cfg("config-yaml-syntax", "targets:", "targets: [", "", "YAML syntax error", line=7),
    cfg(
        "config-duplicate-target", "  braze:\n", f"  seg:  {MARK}\n", "targets.seg", "duplicate key"
    ),
    Bad(
        "config-a-list",
        {"reconciler.yaml": "- version: 1\n"},
        "",
        "must be a mapping, got a list",
        file="reconciler.yaml",
        line=1,
    ),
]


def test_the_table_is_big_and_has_no_repeats() -> None:
    assert len(BAD) >= 40
    assert len({b.id for b in BAD}) == len(BAD)
    assert len({tuple(sorted((k, str(v)) for k, v in b.files.items())) for b in BAD}) == len(BAD)


@pytest.mark.parametrize("case", BAD, ids=[b.id for b in BAD])
def test_bad_input_is_one_located_line_and_exit_1(project: Project, case: Bad) -> None:
    for rel, text in case.files.items():
        project.write(rel, text)
    result = project.run("validate", *case.args)
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    line = case.expected_line()
    prefix = f"{case.file}:{line}: " + (f"{case.location}: " if case.location else "")
    lines = result.err.splitlines()
    located = [t for t in lines if t.startswith(prefix)]
    assert located, f"no line starts with {prefix!r}:\n{result.err}"
    assert any(case.message in t for t in located), f"{case.message!r} not in:\n{result.err}"
    # every problem line names a file, and the last line counts them
    problems = lines[:-1]
    assert problems and all(":" in t for t in problems)
    assert lines[-1] == f"Error: {len(problems)} problem(s) found."
    assert result.out == ""


# -- the good paths --------------------------------------------------------------------------


def test_valid_project_exits_0_with_a_summary(project: Project) -> None:
    project.add_valid()
    result = project.run("validate")
    assert result.code == 0, result.output
    assert result.out == (
        "Success! 4 manifest(s) in 4 file(s) are valid: "
        "35 item(s) declared absent across 4 target(s).\n"
    )
    assert result.err == ""


def test_validate_only_the_paths_given(project: Project) -> None:
    project.add_valid()
    project.write(BAD_FILE, "kind: nope\n")
    result = project.run("validate", "specs/valid/segment.yaml", "specs/valid/insider.yaml")
    assert result.code == 0, result.output
    assert "2 manifest(s) in 2 file(s)" in result.out
    folder = project.run("validate", "specs/valid")
    assert folder.code == 0 and "4 manifest(s)" in folder.out
    everything = project.run("validate")
    assert everything.code == 1 and "specs/bad.yaml:1: kind: must be Removal" in everything.err


def test_a_missing_path_is_reported(project: Project) -> None:
    result = project.run("validate", "specs/nope.yaml")
    assert result.code == 1
    assert "specs/nope.yaml: no such file" in result.err


def test_an_empty_manifest_file_is_reported(project: Project) -> None:
    project.write("specs/empty.yaml", "# nothing here yet\n")
    result = project.run("validate")
    assert result.code == 1
    assert "specs/empty.yaml: holds no manifest (empty file)" in result.err


def test_every_problem_is_printed_not_just_the_first(project: Project) -> None:
    project.write("specs/a.yaml", seg_ident("{type: group_id, value: g}"))
    project.write("specs/b.yaml", manifest(SEG_OK, target="nope", name="b"))
    project.write("reconciler.yaml", CONFIG_YAML)
    text = seg(
        "absent:\n  - profile: {user_id: u_1}\n    identifiers:\n      - {type: group_id, value: g}\n      - {type: Email, value: a}\n      - {type: email}\n"
    )
    project.write("specs/c.yaml", text.replace("bad-input", "c"))
    result = project.run("validate")
    assert result.code == 1
    assert result.err.splitlines() == [
        "specs/a.yaml:12: spec.absent[0].identifiers[0].type: segment never deletes group_id (individual profiles only)",
        "specs/b.yaml:8: spec.target: unknown target 'nope' (targets in reconciler.yaml: braze, ins, mem, seg)",
        "specs/c.yaml:12: spec.absent[0].identifiers[0].type: segment never deletes group_id (individual profiles only)",
        "specs/c.yaml:13: spec.absent[0].identifiers[1].type: identifier types are lowercase in segment ('Email')",
        "specs/c.yaml:14: spec.absent[0].identifiers[2]: value is required for segment targets",
        "Error: 5 problem(s) found.",
    ]


def test_two_unknown_keys_are_two_problems(project: Project) -> None:
    project.write(BAD_FILE, SEG.replace("kind: Removal\n", "kind: Removal\nfoo: 1\nbar: 2\n"))
    result = project.run("validate")
    assert "specs/bad.yaml:3: foo: unknown key 'foo'" in result.err
    assert "specs/bad.yaml:4: bar: unknown key 'bar'" in result.err


def test_config_option_and_config_in_a_parent_folder(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.add_valid()
    monkeypatch.chdir(project.root / "specs" / "valid")
    from_child = project.run("validate")
    assert from_child.code == 0, from_child.output
    assert "4 manifest(s)" in from_child.out

    other = project.root / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    explicit = project.run("--config", str(project.root / "reconciler.yaml"), "validate")
    assert explicit.code == 0, explicit.output


def test_config_option_naming_a_missing_file(project: Project) -> None:
    result = project.run("--config", "nope.yaml", "validate")
    assert result.code == 1
    assert result.err.strip() == "Error: nope.yaml: no such file"


def test_no_config_found(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tests.kit.cli import run_captured

    monkeypatch.chdir(tmp_path)
    if any((p / "reconciler.yaml").is_file() for p in tmp_path.resolve().parents):
        pytest.skip("a reconciler.yaml exists above the temp folder")
    result = run_captured(capsys, "validate")
    assert result.code == 1
    assert "no reconciler.yaml in" in result.err and "--config PATH" in result.err
    assert "Traceback" not in result.output


def test_usage_errors_exit_1_not_2(project: Project) -> None:
    result = project.run("validate", "--no-such-option")
    assert result.code == 1
    assert "No such option" in result.err


def test_bundled_example_validates_from_the_repo_root() -> None:
    """The README's first command: `reconcile validate` on the bundled example."""
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Success! 4 manifest(s) in 4 file(s) are valid")
    assert "Traceback" not in completed.stderr


def test_bad_input_in_a_subprocess_has_no_traceback(project: Project) -> None:
    project.write(BAD_FILE, SEG.replace("owner: team-test", "owner: !!int team"))
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [
        "specs/bad.yaml:5: YAML error: cannot read 'team' as !!int",
        "Error: 1 problem(s) found.",
    ]


def test_a_manifest_that_is_not_utf8_is_reported(project: Project) -> None:
    project.write(BAD_FILE, SEG.replace("team-test", "\u00e9quipe").encode("latin-1"))
    result = project.run("validate")
    assert result.code == 1
    assert result.err.startswith("specs/bad.yaml:5: is not UTF-8 text (byte 0xe9")
    assert "Traceback" not in result.output


def test_control_characters_in_keys_and_values_cannot_split_a_problem_line(
    project: Project,
) -> None:
    project.write(
        BAD_FILE, SEG.replace("kind: Removal\n", 'kind: Removal\n"a\\rb\\u001b[31m": 1\n')
    )
    result = project.run("validate")
    assert result.code == 1
    assert result.err.splitlines() == [
        "specs/bad.yaml:3: a\\rb\\x1b[31m: unknown key 'a\\r****1m' "
        "(allowed: apiVersion, kind, metadata, spec)",
        "Error: 1 problem(s) found.",
    ]


@pytest.mark.parametrize(
    ("specs", "fragment"),
    [('"a\\0b"', "embedded null byte"), ("x" * 300, "File name too long")],
)
def test_a_specs_folder_that_cannot_exist_is_a_problem_not_a_crash(
    project: Project, specs: str, fragment: str
) -> None:
    project.write("reconciler.yaml", CONFIG_YAML.replace("specs: specs/", f"specs: {specs}"))
    result = project.run("validate")
    assert result.code == 1, result.output
    [problem, summary] = result.err.splitlines()
    assert problem.startswith("reconciler.yaml:2: specs: ") and fragment in problem, problem
    assert summary == "Error: 1 problem(s) found."


# -- files under specs/ that cannot be read are reported, never skipped -----------------------


def test_a_dangling_symlink_under_specs_is_reported(project: Project) -> None:
    project.write("specs/ok.yaml", SEG)
    (project.root / "specs" / "gone.yaml").symlink_to("../nowhere/gone.yaml")
    result = project.run("validate")
    assert result.code == 1, result.output
    assert result.err.splitlines() == [
        "specs/gone.yaml: broken symbolic link: it points to ../nowhere/gone.yaml, "
        "which does not exist",
        "Error: 1 problem(s) found.",
    ]


def test_a_dangling_symlink_given_by_name_is_reported_as_the_link(project: Project) -> None:
    (project.root / "specs" / "gone.yml").symlink_to("/nonexistent/target.yml")
    result = project.run("validate", "specs/gone.yml")
    assert result.code == 1, result.output
    assert result.err.splitlines()[0] == (
        "specs/gone.yml: broken symbolic link: it points to /nonexistent/target.yml, "
        "which does not exist"
    )


def test_a_symlink_loop_under_specs_is_reported(project: Project) -> None:
    specs = project.root / "specs"
    (specs / "a.yaml").symlink_to("b.yaml")
    (specs / "b.yaml").symlink_to("a.yaml")
    result = project.run("validate")
    assert result.code == 1, result.output
    lines = result.err.splitlines()
    assert lines[0].startswith("specs/a.yaml: cannot read: ")
    assert lines[0].endswith("(a symbolic link to b.yaml)")
    assert lines[1].startswith("specs/b.yaml: cannot read: ")
    assert lines[2] == "Error: 2 problem(s) found."


def test_a_fifo_named_like_a_manifest_is_reported_not_read(project: Project) -> None:
    import os

    os.mkfifo(project.root / "specs" / "pipe.yaml")
    result = project.run("validate")  # reading a FIFO would block forever
    assert result.code == 1, result.output
    assert "specs/pipe.yaml: is not a regular file (a manifest must be)" in result.err


def test_symlinks_to_files_still_load_and_other_names_are_ignored(project: Project) -> None:
    project.write("elsewhere/real.yaml", SEG)
    specs = project.root / "specs"
    (specs / "linked.yaml").symlink_to("../elsewhere/real.yaml")
    (specs / "notes.txt").symlink_to("../nowhere.txt")  # not a manifest name: not ours
    (specs / ".old.yaml").symlink_to("../nowhere.yaml")  # hidden: skipped as before
    result = project.run("validate")
    assert result.code == 0, result.output
    assert result.out.startswith("Success! 1 manifest(s) in 1 file(s)")


# -- messages locate a value, they do not repeat it -------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        (ins_entry("{profile: {phone_number: '44556677'}, attributes: [name]}"), "44556677"),
        (ins_entry("{identifiers: [{type: phone_number, value: '+00659876'}]}"), "+00659876"),
        (
            mem(
                "absent:\n  - profile: {profile_id: mem_profile_9zzzzzzzzzz}\n"
                "    identifiers: [{type: phone, all_values: true}]\n"
            ),
            "mem_profile_9zzzzzzzzzz",
        ),
    ],
    ids=["insider-locator-phone", "insider-identifier-phone", "memory-profile-id"],
)
def test_rule_messages_show_the_masked_value_not_the_raw_one(
    project: Project, text: str, raw: str
) -> None:
    from reconciler.masking import mask

    project.write(BAD_FILE, text)
    result = project.run("validate")
    assert result.code == 1, result.output
    assert mask(raw) != raw
    assert f"'{mask(raw)}'" in result.err
    assert raw not in result.err


def test_csv_rule_messages_show_the_masked_value_not_the_raw_one(project: Project) -> None:
    from reconciler.masking import mask

    raw = "44556677"
    project.write(BAD_FILE, manifest("absent_csv: [rows.csv]\n", target="ins"))
    project.write("specs/rows.csv", f"phone_number,attribute\n{raw},name\n")
    result = project.run("validate")
    assert result.code == 1, result.output
    assert f"specs/rows.csv:2: phone_number: '{mask(raw)}' is not an E.164" in result.err
    assert raw not in result.err


# -- values may hold a tab, nothing else that is a control character --------------------------


def test_a_tab_in_a_value_is_allowed_in_yaml_and_csv(project: Project) -> None:
    project.write(BAD_FILE, seg_ident('{type: email, value: "a\\tb@example.com"}'))
    project.write(
        "specs/tabs.yaml", manifest("absent_csv: [tabs.csv]\n", target="seg", name="tabs")
    )
    project.write("specs/tabs.csv", "user_id,type,value\nu_1,anonymous_id,a\tb\n")
    result = project.run("validate")
    assert result.code == 0, result.output
    assert "2 item(s) declared absent" in result.out
