"""Dashboard: the Linked accounts table and the account page (with its actions)."""

import logging

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import catalog
from accounts.dashboard import BadCursor, keyset_page, operator_required, query_with
from accounts.models import AccountType, Category, LinkedAccountStatus, SyncFrequency
from accounts.services import linked_account_delete, linked_account_set_sync_frequency
from issues.models import CREDENTIAL_ERRORS, IssueStatus
from issues.selectors import issues_for_account
from syncs.services import sync_queue_now

from . import dashboard_selectors as selectors
from .selectors import relink_emails_for_account
from .services import magic_link_create, relink_email_send

logger = logging.getLogger(__name__)
PAGE_SIZE = 50


class AccountFilters(forms.Form):
    # Production by default, as the API keys separate them; "all" mixes both.
    environment = forms.ChoiceField(
        choices=[("production", "Production"), ("test", "Test"), ("all", "All environments")], required=False
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *LinkedAccountStatus.choices], required=False)
    integration = forms.CharField(required=False, max_length=64)
    category = forms.ChoiceField(choices=[("", "Any category"), *Category.choices], required=False)
    q = forms.CharField(required=False, max_length=200, label="Search")
    sort = forms.ChoiceField(choices=[(k, k) for k in selectors.SORTS], required=False)
    cursor = forms.CharField(required=False, max_length=500)


ENVIRONMENTS = {"": AccountType.PRODUCTION, "production": AccountType.PRODUCTION, "test": AccountType.TEST}


@require_GET
@operator_required
def account_list(request):
    form = AccountFilters(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            "Invalid filter: " + "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items())
        )
    f = form.cleaned_data
    base = selectors.linked_accounts_filtered(
        organization=request.organization,
        account_type=ENVIRONMENTS.get(f["environment"]),
        integration=f["integration"] or None,
        category=f["category"] or None,
    )
    counts = selectors.linked_account_status_counts(queryset=base)
    qs = selectors.linked_accounts_filtered(
        organization=request.organization,
        account_type=ENVIRONMENTS.get(f["environment"]),
        integration=f["integration"] or None,
        category=f["category"] or None,
        status=f["status"] or None,
        search=f["q"].strip() or None,
    )
    sort_name = f["sort"] or "newest"
    column, descending = selectors.SORTS[sort_name]
    try:
        page = keyset_page(
            queryset=qs, sort=column, descending=descending, cursor=f["cursor"] or None, page_size=PAGE_SIZE
        )
    except BadCursor:
        return HttpResponseBadRequest("Invalid cursor.")
    running = selectors.running_syncs_for_accounts(account_ids=[a.id for a in page.rows])
    rows = [
        {"account": a, "integration": catalog.get(a.integration), "running": running.get(a.id)}
        for a in page.rows
    ]
    sort_links = {}
    for key in ("name", "origin", "status", "integration"):
        sort_links[key] = query_with(request, sort=f"-{key}" if sort_name == key else key, cursor=None)
    sort_links["created"] = query_with(
        request, sort="oldest" if sort_name == "newest" else "newest", cursor=None
    )
    return render(
        request,
        "linking/dashboard_accounts.html",
        {
            "form": form,
            "rows": rows,
            "counts": [
                (s, LinkedAccountStatus(s).label, counts.get(s, 0)) for s in LinkedAccountStatus.values
            ],
            "total": sum(counts.values()),
            "next_url": query_with(request, cursor=page.next_cursor) if page.next_cursor else None,
            "previous_url": query_with(request, cursor=page.previous_cursor)
            if page.previous_cursor
            else None,
            "status_filter_urls": {
                s: query_with(request, status=s, cursor=None) for s in LinkedAccountStatus.values
            },
            "all_statuses_url": query_with(request, status=None, cursor=None),
            "sort": sort_name,
            "sort_links": sort_links,
            "integrations": catalog.all_integrations(),
        },
    )


def _account_or_404(request, account_id):
    account = selectors.linked_account_for_organization(
        organization=request.organization, account_id=account_id
    )
    if account is None:
        raise Http404("No such linked account.")
    account.organization = request.organization
    return account


@require_GET
@operator_required
def sync_badge(request, account_id):
    """The HTMX fragment polled while a sync runs (it stops polling once the run is over)."""
    account = _account_or_404(request, account_id)
    run = selectors.running_sync_for_account(account=account)
    return render(
        request,
        "linking/dashboard_accounts.html#sync-badge",
        {"account": account, "running": run, "polled": True},
    )


def _success_chart(runs, *, width: int = 600, height: int = 120) -> list[dict]:
    """One bar per run, oldest left: the share of its requests that succeeded."""
    bars = []
    ordered = list(reversed(runs))
    slot = width / max(len(ordered), 1)
    for i, run in enumerate(ordered):
        total = run.requests_total
        rate = (total - run.requests_failed) / total if total else None
        h = round((rate or 0) * (height - 4), 2)
        bars.append(
            {
                "x": round(i * slot + slot * 0.15, 2),
                "w": round(slot * 0.7, 2),
                "y": round(height - h, 2),
                "h": h,
                "rate": None if rate is None else round(rate * 100),
                "run": run,
            }
        )
    return bars


class SyncFrequencyForm(forms.Form):
    sync_frequency = forms.ChoiceField(
        choices=[("", "Organization default"), *SyncFrequency.choices], required=False
    )


def _render_account(request, account, *, magic_link: str | None = None, status: int = 200):
    runs = selectors.sync_runs_for_account(account=account)
    logs = selectors.request_logs_for_runs(runs=runs)
    issues = list(issues_for_account(account=account)[:50])
    history = selectors.status_history_for_account(account=account)
    running = next((r for r in runs if r.status == "RUNNING"), None)
    return render(
        request,
        "linking/dashboard_account.html",
        {
            "account": account,
            "integration": catalog.get(account.integration),
            "history": history,
            "runs": [{"run": r, "logs": logs.get(r.id, [])} for r in runs],
            "running": running,
            "chart": _success_chart(runs),
            "data_counts": selectors.synced_data_counts(account=account),
            "issues": issues,
            "has_credential_issue": any(
                i.status == IssueStatus.ONGOING and i.error_description in CREDENTIAL_ERRORS for i in issues
            ),
            "emails": list(relink_emails_for_account(account=account)[:20]),
            "frequency_form": SyncFrequencyForm(initial={"sync_frequency": account.sync_frequency}),
            "default_frequency": request.organization.get_default_sync_frequency_display(),
            "magic_link": magic_link,
        },
        status=status,
    )


@require_GET
@operator_required
def account_detail(request, account_id):
    return _render_account(request, _account_or_404(request, account_id))


@require_POST
@operator_required
def account_resync(request, account_id):
    account = _account_or_404(request, account_id)
    sync_queue_now(account=account, reason=f"Forced by {request.user.get_username()} in the dashboard")
    messages.success(request, "A sync is queued; it starts in a moment.")
    return redirect("dash-account", account_id=account.id)


@require_POST
@operator_required
def account_relink_email(request, account_id):
    account = _account_or_404(request, account_id)
    try:
        email = relink_email_send(account=account, sent_by=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    except OSError:
        logger.exception("relink e-mail failed for account %s", account.id)
        messages.error(
            request, "The mail server refused the relink e-mail; nothing was sent. Try again later."
        )
    else:
        messages.success(request, f"Relink e-mail sent to {email.to_address}.")
    return redirect("dash-account", account_id=account.id)


@require_POST
@operator_required
def account_magic_link(request, account_id):
    account = _account_or_404(request, account_id)
    url = magic_link_create(
        account=account, base_url=request.build_absolute_uri("/").rstrip("/")
    ).magic_link_url
    # In this response only: the link is a credential for the end user's relink.
    return _render_account(request, account, magic_link=url)


@require_POST
@operator_required
def account_sync_frequency(request, account_id):
    account = _account_or_404(request, account_id)
    form = SyncFrequencyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed sync frequencies.")
    else:
        linked_account_set_sync_frequency(account=account, sync_frequency=form.cleaned_data["sync_frequency"])
        messages.success(request, "Sync frequency saved.")
    return redirect("dash-account", account_id=account.id)


@require_http_methods(["GET", "POST"])
@operator_required
def account_delete(request, account_id):
    account = _account_or_404(request, account_id)
    if request.method == "POST":
        if request.POST.get("confirm_origin_id") != account.end_user_origin_id:
            messages.error(request, "Type the account's origin id exactly to confirm the deletion.")
            return render(request, "linking/dashboard_account_delete.html", {"account": account}, status=400)
        try:
            linked_account_delete(
                account=account, reason=f"Deleted in the dashboard by {request.user.get_username()}"
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect("dash-account", account_id=account.id)
        messages.success(
            request,
            f"Deleted the linked account {account.end_user_organization_name} ({account.end_user_origin_id}).",
        )
        return redirect("dash-accounts")
    return render(request, "linking/dashboard_account_delete.html", {"account": account})
