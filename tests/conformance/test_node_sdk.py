"""Merge's Node SDK (`@mergeapi/merge-node-client`, pinned in node/package-lock.json) against a
live Relink: link (and a failed link beside it), sync, a revoked key and issues, with the SDK's
response validation on. It prints every schema mismatch ("Failed to validate.") through
console.warn; node/drive.js collects them and none may appear."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accounts.models import AccountType
from syncs import runs as sync_runs
from syncs import tasks as sync_tasks

NODE_DIR = Path(__file__).parent / "node"


def node_sdk_installed() -> Path:
    """The pinned Node SDK (package-lock.json), installed with `npm ci` when missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the Node SDK conformance test")
    marker = NODE_DIR / "node_modules" / "@mergeapi" / "merge-node-client" / "package.json"
    if not marker.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=600)
    return NODE_DIR


def _node(phase: str, world_env: dict[str, str]) -> dict:
    result = subprocess.run(
        ["node", "drive.js", phase],
        cwd=node_sdk_installed(),
        env={**os.environ, **world_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = json.loads(result.stdout or "{}")
    assert "error" not in out and result.returncode == 0, f"{phase}: {out} {result.stderr}"
    # The SDK prints a schema mismatch through console.warn: none may appear.
    assert out["warnings"] == [], f"{phase}: the Node SDK's validation failed:\n" + "\n".join(out["warnings"])
    return out["result"]


@pytest.mark.django_db(transaction=True)
def test_the_node_sdk_links_syncs_meets_a_revoked_key_and_reads_issues_without_a_validation_failure(
    live_server, owner, sandbox_provider, monkeypatch
):
    monkeypatch.setattr(sync_tasks.sync_account, "apply_async", lambda *args, **kwargs: None)
    # Beside it, an INCOMPLETE account (completed_at is a date-time in linked-accounts even so).
    owner.linked_account(origin_id="node-incomplete", account_type=AccountType.TEST, complete=False)
    env = {"RELINK_URL": live_server.url, "RELINK_API_KEY": owner.test_key, "RELINK_ORIGIN_ID": "node-1"}

    linked = _node("link", env)
    assert linked["integration_name"] == "Sandbox HRIS" and linked["failed_status"] == 400
    env["RELINK_ACCOUNT_TOKEN"] = linked["account_token"]
    assert sync_runs.sync_run_account(account_id=linked["id"], trigger="schedule").status == "DONE"

    synced = _node("synced", env)
    assert synced["status"] == "COMPLETE" and synced["statuses"] == ["COMPLETE", "INCOMPLETE", "INCOMPLETE"]
    assert any("Invalid API key" in d for d in synced["incomplete_details"])  # the failed link says why
    assert synced["sync_status"] == ["DONE"] and synced["resync"] == ["SYNCING"]
    assert synced["employees"] == 200 and synced["modified_before_2000"] == 0
    assert 0 < synced["active"] < 200 and synced["all_active"] and synced["retrieved"]
    assert synced["bogus"]["status"] == 400 and "employment_status" in synced["bogus"]["body"]

    assert _node("revoke", env) == {"status": 200}
    assert sync_runs.sync_run_account(account_id=linked["id"], trigger="schedule").status == "FAILED"

    revoked = _node("revoked", env)
    assert revoked["status"] == "RELINK_NEEDED" and revoked["issues"] == ["Invalid API key"]
    assert revoked["issue_end_user"] == "node-1"
    assert revoked["relink_needed"] == [linked["id"]] and revoked["sync_status"] == ["PAUSED"]
