"""reconciler.yaml: found in the working folder or a parent, defaults, base URLs, problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import find_config, is_loopback
from reconciler.config.load import load_config
from reconciler.errors import ReconcilerError, ValidationFailed
from reconciler.target import RateLimit
from reconciler.vendors.segment import HOSTS
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML


def test_the_shared_project_config_loads_with_defaults(project: Project) -> None:
    config = project.config()
    root = project.root.resolve()
    assert config.path == root / "reconciler.yaml"
    assert config.root == root
    assert config.specs_dir == root / "specs/"
    assert config.ledger_dir == root / "state/ledger"
    assert config.key_env is None
    assert config.max_deletions is None
    assert list(config.targets) == ["seg", "braze", "mem", "ins"]
    seg = config.targets["seg"]
    assert (seg.vendor, seg.base_url, seg.rate_limit) == (
        "segment",
        "https://profiles.segment.com",
        None,
    )
    assert seg.settings == {
        "vendor": "segment",
        "space_id": "spa_test1",
        "token_env": "SEGMENT_TOKEN",
        "identifier_types": ["phone"],
    }
    assert config.targets["braze"].base_url == "https://rest.iad-01.braze.com"
    assert config.targets["mem"].base_url == "https://memory.twilio.com"
    assert config.targets["ins"].base_url == "https://unification.useinsider.com"


def test_secret_env_names_per_vendor(project: Project) -> None:
    targets = project.config().targets
    assert targets["seg"].secret_env_names() == ("SEGMENT_TOKEN",)
    assert targets["braze"].secret_env_names() == ("BRAZE_API_KEY",)
    assert targets["mem"].secret_env_names() == ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    assert targets["ins"].secret_env_names() == ("INSIDER_REQUEST_TOKEN",)


def test_minimal_config_uses_default_folders(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(
        "version: 1\ntargets:\n  s: {vendor: segment, space_id: s1, token_env: T}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.specs_dir == tmp_path.resolve() / "specs"
    assert config.ledger_dir == tmp_path.resolve() / "state/ledger"


def test_paths_are_relative_to_the_config_folder_and_key_env_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "reconciler.yaml").write_text(
        "version: 1\nspecs: manifests\nmax_deletions: 500\n"
        "ledger: {path: ledger, key_env: RECONCILE_LEDGER_KEY}\n"
        "targets:\n  s: {vendor: segment, space_id: s1, token_env: T}\n",
        encoding="utf-8",
    )
    config = load_config(folder / "reconciler.yaml")
    assert config.specs_dir == folder.resolve() / "manifests"
    assert config.ledger_dir == folder.resolve() / "ledger"
    assert config.key_env == "RECONCILE_LEDGER_KEY"
    assert config.max_deletions == 500


@pytest.mark.parametrize(
    ("region", "url"),
    [("us", "https://profiles.segment.com"), ("eu", "https://profiles.euw1.segment.com")],
)
def test_segment_region_picks_the_host(tmp_path: Path, region: str, url: str) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(
        "version: 1\ntargets:\n"
        f"  s: {{vendor: segment, space_id: s1, token_env: T, region: {region}}}\n",
        encoding="utf-8",
    )
    assert load_config(path).targets["s"].base_url == url
    assert HOSTS[region] == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9000/",
        "http://[::1]:8000",
        "http://sandbox.localhost",
        "https://example.com/",
    ],
)
def test_plain_http_is_allowed_on_loopback_and_trailing_slash_dropped(
    tmp_path: Path, url: str
) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(
        f"version: 1\ntargets:\n  b: {{vendor: braze, base_url: '{url}', api_key_env: K}}\n",
        encoding="utf-8",
    )
    assert load_config(path).targets["b"].base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("a.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.evil.example", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("per", "seconds"), [("second", 1.0), ("minute", 60.0)])
def test_rate_limit(tmp_path: Path, per: str, seconds: float) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(
        "version: 1\ntargets:\n"
        "  i: {vendor: insider, partner_name: brand, token_env: T,"
        f" rate_limit: {{requests: 6000, per: {per}}}}}\n",
        encoding="utf-8",
    )
    limit = load_config(path).targets["i"].rate_limit
    assert limit == RateLimit(6000, seconds)
    assert limit.per_second == 6000 / seconds


def test_find_config_walks_up_from_a_subfolder(project: Project) -> None:
    sub = project.root / "specs" / "team" / "deep"
    sub.mkdir(parents=True)
    assert find_config(sub) == (project.root / "reconciler.yaml").resolve()


def test_find_config_defaults_to_the_working_directory(project: Project) -> None:
    assert find_config() == (project.root / "reconciler.yaml").resolve()


def test_no_config_anywhere_is_a_user_error(tmp_path: Path) -> None:
    lonely = tmp_path / "nowhere"
    lonely.mkdir()
    if any((p / "reconciler.yaml").is_file() for p in lonely.resolve().parents):
        pytest.skip("a reconciler.yaml exists above the temp folder")
    with pytest.raises(ReconcilerError, match=r"no reconciler\.yaml in .*--config PATH"):
        find_config(lonely)


def test_missing_config_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="no such file"):
        load_config(tmp_path / "reconciler.yaml")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "exactly one YAML document, found 0"),
        (CONFIG_YAML + "---\nversion: 1\n", "exactly one YAML document, found 2"),
    ],
)
def test_config_must_be_one_document(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "reconciler.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        load_config(path)
    [problem] = info.value.problems
    assert fragment in problem.message


def test_every_config_problem_is_reported_at_once(project: Project) -> None:
    text = CONFIG_YAML.replace("partner_name: mybrand", "partner_name: MyBrand").replace(
        "space_id: spa_test1", "space_id: spa test"
    )
    text = text.replace("base_url: https://rest", "base_url: http://rest")
    project.write("reconciler.yaml", text)
    with pytest.raises(ValidationFailed) as info:
        project.config()
    # the schema problems come first; the http:// check needs a schema-valid file
    assert [(p.line, p.location) for p in info.value.problems] == [
        (8, "targets.seg.space_id"),
        (22, "targets.ins.partner_name"),
    ]
