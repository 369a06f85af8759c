"""Dashboard: the Linked accounts list and the frame of an account page (details, status
history, sync frequency, deletion). The other apps fill the page with their own panels, loaded
by HTMX: syncs (running-sync badges, runs and request logs), issues (the account's issues) and
linking (relink e-mails, magic link); this module reads no model but the accounts app's."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import catalog
from . import dashboard_selectors as selectors
from .dashboard import filtered_by, linked_account_or_404, operator_required, pager_links, query_with
from .models import AccountType, Category, LinkedAccountStatus, SyncFrequency
from .paging import BadCursor, keyset_page
from .services import linked_account_delete, linked_account_set_sync_frequency

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
@filtered_by(AccountFilters)
def account_list(request, form):
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
            queryset=qs,
            keys=(column, "id"),
            descending=descending,
            cursor=f["cursor"] or None,
            page_size=PAGE_SIZE,
        )
    except BadCursor:
        return HttpResponseBadRequest("Invalid cursor.")
    rows = [{"account": a, "integration": catalog.get(a.integration)} for a in page.rows]
    sort_links = {}
    for key in ("name", "origin", "status", "integration"):
        sort_links[key] = query_with(request, sort=f"-{key}" if sort_name == key else key, cursor=None)
    sort_links["created"] = query_with(
        request, sort="oldest" if sort_name == "newest" else "newest", cursor=None
    )
    return render(
        request,
        "accounts/linked_accounts.html",
        {
            "form": form,
            "rows": rows,
            "badges_query": urlencode([("account", str(a.id)) for a in page.rows]),
            "counts": [
                (s, LinkedAccountStatus(s).label, counts.get(s, 0)) for s in LinkedAccountStatus.values
            ],
            "total": sum(counts.values()),
            **pager_links(request, page),
            "status_filter_urls": {
                s: query_with(request, status=s, cursor=None) for s in LinkedAccountStatus.values
            },
            "all_statuses_url": query_with(request, status=None, cursor=None),
            "sort": sort_name,
            "sort_links": sort_links,
            "integrations": _integrations_by_category(f["category"] or None),
        },
    )


class SyncFrequencyForm(forms.Form):
    sync_frequency = forms.ChoiceField(
        choices=[("", "Organization default"), *SyncFrequency.choices], required=False
    )


@require_GET
@operator_required
def account_detail(request, account_id):
    account = linked_account_or_404(request, account_id)
    return render(
        request,
        "accounts/linked_account.html",
        {
            "account": account,
            "integration": catalog.get(account.integration),
            "history": selectors.status_history_for_account(account=account),
            "frequency_form": SyncFrequencyForm(initial={"sync_frequency": account.sync_frequency}),
            "default_frequency": request.organization.get_default_sync_frequency_display(),
        },
    )


@require_POST
@operator_required
def account_sync_frequency(request, account_id):
    account = linked_account_or_404(request, account_id)
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
    account = linked_account_or_404(request, account_id)
    if request.method == "POST":
        if request.POST.get("confirm_origin_id") != account.end_user_origin_id:
            messages.error(request, "Type the account's origin id exactly to confirm the deletion.")
            return render(request, "accounts/linked_account_delete.html", {"account": account}, status=400)
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
    return render(request, "accounts/linked_account_delete.html", {"account": account})


def _integrations_by_category(category: str | None) -> list[tuple[str, list[catalog.IntegrationInfo]]]:
    """The integration filter's choices, grouped by category (only the chosen one's, if any)."""
    groups = []
    for value, label in Category.choices:
        if category and value != category:
            continue
        infos = [i for i in catalog.all_integrations() if value in i.categories]
        if infos:
            groups.append((label, infos))
    return groups
