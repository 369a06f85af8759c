"""Dashboard: the sync panel of an account page (success-rate chart, runs and their request logs,
synced record counts), the running-sync badges of the Linked accounts list, and force resync.
Each panel is an HTMX partial the page loads, and a page of its own at the same URL."""

import uuid

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.charts import stacked_bars
from accounts.dashboard import linked_account_or_404, operator_required

from . import dashboard_selectors as selectors
from .dispatch import sync_queue_now
from .oauth_grants import oauth_grant_ends

TEMPLATE = "syncs/account_syncs.html"
# The Linked accounts list pages 50 rows; a few more is still one request.
MAX_BADGES = 100


@require_GET
@operator_required
def sync_badges(request):
    """The running-sync badges of the listed accounts, each swapped into its row out of band."""
    try:
        ids = [uuid.UUID(raw) for raw in request.GET.getlist("account")[:MAX_BADGES]]
    except ValueError:
        return HttpResponseBadRequest("Invalid account id.")
    running = selectors.running_syncs_for_accounts(account_ids=ids, organization=request.organization)
    # OAuth grants that end soon get an "Access expires" badge beside the sync state.
    grant_ends = oauth_grant_ends(account_ids=ids, organization=request.organization)
    badges = [
        {
            "account_id": account_id,
            "running": running.get(account_id),
            "grant_end": grant_ends.get(str(account_id)),
        }
        for account_id in ids
    ]
    template = f"{TEMPLATE}#sync-badges" if request.htmx else TEMPLATE
    return render(request, template, {"badges": badges, "page": "badges"})


@require_GET
@operator_required
def sync_badge(request, account_id):
    """The HTMX fragment polled while a sync runs (it stops polling once the run is over)."""
    account = linked_account_or_404(request, account_id)
    run = selectors.running_sync_for_account(account=account)
    return render(
        request,
        f"{TEMPLATE}#sync-badge",
        {"account_id": account.id, "running": run, "polled": True, "grant_end": _grant_end(account)},
    )


def _success_chart(runs, *, width: int = 600, height: int = 120) -> list[dict]:
    """One bar per run, oldest left: the share of its requests that succeeded (None: no requests)."""

    def succeeded(run, _segment):
        total = run.requests_total
        return (total - run.requests_failed) / total if total else 0

    bars = stacked_bars(
        list(reversed(runs)),
        segments=("succeeded",),
        value=succeeded,
        width=width,
        height=height,
        top=1,
        headroom=4,
        fill=0.7,
    )
    return [
        {"bar": bar, "run": bar.item, "rate": round(bar.total * 100) if bar.item.requests_total else None}
        for bar in bars
    ]


@require_GET
@operator_required
def account_sync_runs(request, account_id):
    """The account page's sync panel (or, without HTMX, a page of its own)."""
    account = linked_account_or_404(request, account_id)
    runs = selectors.sync_runs_for_account(account=account)
    logs = selectors.request_logs_for_runs(runs=runs)
    template = f"{TEMPLATE}#panel" if request.htmx else TEMPLATE
    return render(
        request,
        template,
        {
            "account": account,
            "account_id": account.id,
            "runs": [{"run": r, "logs": logs.get(r.id, [])} for r in runs],
            "running": next((r for r in runs if r.status == "RUNNING"), None),
            "chart": _success_chart(runs),
            "synced_counts": selectors.synced_counts_for_account(account=account),
            "grant_end": _grant_end(account),
            "page": "panel",
        },
    )


@require_POST
@operator_required
def account_resync(request, account_id):
    account = linked_account_or_404(request, account_id)
    sync_queue_now(account=account, reason=f"Forced by {request.user.get_username()} in the dashboard")
    messages.success(request, "A sync is queued; it starts in a moment.")
    return redirect("dash-account", account_id=account.id)


def _grant_end(account) -> dict | None:
    return oauth_grant_ends(account_ids=[account.id], organization=account.organization).get(str(account.id))
