"""The project's own documentation stays true to the repository: the committed OpenAPI schema is
the one the server serves, and every link in README.md and docs/ leads to a file of this
repository (a clone has no ../shared, and readers should not need the web to learn the API)."""

import base64
import difflib
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]*)>", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _links(text: str) -> list[str]:
    """Link targets outside code: inline links and images, reference definitions, autolinks."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _INLINE_LINK.findall(prose) + _REFERENCE_DEF.findall(prose) + _AUTOLINK.findall(prose)


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = _FENCE.sub("", markdown.read_text())
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_documentation_exists():
    names = {p.name for p in DOCS}
    assert {"README.md", "api.md", "webhooks.md", "operations.md", "architecture.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_every_link_leads_to_a_file_of_the_repository(doc):
    problems = []
    for target in _links(doc.read_text()):
        if _SCHEME.match(target) or target.startswith("//"):
            problems.append(f"{target}: points outside the repository (link to a file under docs/ instead)")
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            problems.append(f"{target}: no heading with the anchor #{anchor} in {resolved.name}")
    assert not problems, f"{doc.relative_to(ROOT)} has broken links:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_no_reference_to_files_outside_the_repository(doc):
    # Written as a path in backticks, not only as a link: a clone has no such file either.
    assert "../shared" not in doc.read_text(), f"{doc.relative_to(ROOT)} refers to ../shared"


@pytest.mark.parametrize("doc", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_every_module_the_docs_name_exists(doc):
    # Modules move (a split, a new package): the docs must follow, or a reader looks in vain.
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.(?:py|html|md|yaml))`", doc.read_text()))
    missing = sorted(
        path for path in named if not (ROOT / path).exists() and not _template(path) and path not in GENERATED
    )
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: {', '.join(missing)}"


def test_the_functions_the_architecture_names_are_where_it_says():
    text = (ROOT / "docs" / "architecture.md").read_text()
    wrong = []
    for path, names in re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)` \(((?:`\w+`(?:, )?)+)\)", text):
        source = (ROOT / path).read_text()
        for name in re.findall(r"`(\w+)`", names):
            if not re.search(rf"^(?:def|class) {name}\b", source, re.M):
                wrong.append(f"{name} is not defined in {path}")
    assert not wrong, "docs/architecture.md: " + "; ".join(wrong)


GENERATED = {"bench/results/latest.md"}  # written by `make bench`, not committed


def _template(path: str) -> bool:
    """`accounts/linked_account.html` is a template path: accounts/templates/accounts/…"""
    app = path.split("/", 1)[0]
    return path.endswith(".html") and (ROOT / app / "templates" / path).exists()


def test_the_link_checker_catches_what_it_should():
    text = (
        "[a](../shared/api-contract.md) [b](https://example.com) <https://x.example> "
        "`[c](not-a-link)`\n```\n[d](nor-this)\n```\n[e]: docs/api.md\n"
    )
    assert _links(text) == [
        "../shared/api-contract.md",
        "https://example.com",
        "docs/api.md",
        "https://x.example",
    ]


def _settings_read() -> set[str]:
    """Every environment variable the code reads at start-up: settings, Celery, gunicorn, Procfile."""
    names = set()
    for path in ("config/settings.py", "config/celery.py", "config/gunicorn.conf.py"):
        text = (ROOT / path).read_text()
        names |= set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
        names |= set(re.findall(r"_secret\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
        names |= set(re.findall(r"os\.environ(?:\.get)?[(\[]\s*[\"']([A-Z][A-Z0-9_]+)[\"']", text))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "Procfile").read_text()))
    return names - {"DJANGO_SETTINGS_MODULE", "PYTEST_VERSION"}


def test_every_setting_is_documented_in_operations():
    assert {"SECRET_KEY", "FERNET_KEYS", "DATABASE_URL", "WEB_CONCURRENCY", "PORT"} <= _settings_read()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "operations.md").read_text()))
    missing = sorted(_settings_read() - documented)
    assert not missing, f"Settings missing from docs/operations.md ('Settings'): {', '.join(missing)}"


def _python_example(doc: Path, marker: str) -> dict:
    """Run the ```python block of `doc` that contains `marker` (not as __main__) and return its names."""
    for block in re.findall(r"^```python\n(.*?)^```", doc.read_text(), re.M | re.S):
        if marker in block:
            namespace: dict = {"__name__": "docs_example"}
            exec(compile(block, f"{doc.name} example", "exec"), namespace)  # noqa: S102 - our own docs
            return namespace
    raise AssertionError(f"{doc.name} has no python example with {marker!r}")


def test_the_webhook_verification_example_accepts_what_relink_sends_and_refuses_replays():
    from issues.webhooks.sender import signed_headers
    from issues.webhooks.signing_keys import SigningKeys

    example = _python_example(ROOT / "docs" / "webhooks.md", "def verify_relink_webhook")
    verify, invalid = example["verify_relink_webhook"], example["InvalidWebhook"]
    merge_ok = example["merge_signature_matches"]

    def new_key() -> str:
        return "whsec_" + base64.b64encode(os.urandom(32)).decode()

    key, old = new_key(), new_key()
    body = json.dumps({"hook": {"id": "d-1", "event": "Issue.new"}, "linked_account": {}, "data": {}})
    now = timezone.now()

    headers = signed_headers(
        keys=SigningKeys(current=key, previous=None), message_id="d-1", body=body, at=now
    )
    assert verify(body.encode(), headers, [key])["hook"]["event"] == "Issue.new"
    assert merge_ok(body.encode(), headers, [key])
    with pytest.raises(invalid, match="webhook-signature"):
        verify(body.replace("Issue.new", "Issue.resolved").encode(), headers, [key])
    with pytest.raises(invalid, match="webhook-signature"):
        verify(body.encode(), headers, [new_key()])
    # A captured delivery sent again later: its Merge signature still matches, the timestamp does not.
    replayed = signed_headers(
        keys=SigningKeys(current=key, previous=None),
        message_id="d-1",
        body=body,
        at=now - timedelta(minutes=10),
    )
    assert merge_ok(body.encode(), replayed, [key])
    with pytest.raises(invalid, match="timestamp"):
        verify(body.encode(), replayed, [key])
    # During a key rotation's overlap, a receiver holding either key verifies.
    rotating = signed_headers(
        keys=SigningKeys(current=key, previous=old), message_id="d-1", body=body, at=now
    )
    assert verify(body.encode(), rotating, [key]) and verify(body.encode(), rotating, [old])
    assert merge_ok(body.encode(), rotating, [key, old]) and not merge_ok(body.encode(), rotating, [key])


def test_committed_openapi_schema_matches_the_served_one():
    committed = (ROOT / "docs" / "openapi.yaml").read_text()
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    served = response.content.decode()
    if served != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    served.splitlines(keepends=True),
                    "docs/openapi.yaml (committed)",
                    "/api/schema/ (served)",
                )
            )[:60]
        )
        pytest.fail(
            "docs/openapi.yaml differs from the schema the API serves: run `make schema` and commit "
            f"docs/openapi.yaml.\n{diff}",
            pytrace=False,
        )
