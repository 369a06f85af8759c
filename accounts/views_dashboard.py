"""Operator dashboard pages of the ground floor: home, organization switcher, billing, settings."""

import csv
import functools
import uuid
from collections.abc import Iterator
from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services
from .billing import parse_month
from .billing_chart import status_counts_by_day
from .billing_months import billing_month_close, billing_month_summary
from .billing_pages import billing_accounts_iter, billing_accounts_page, decode_cursor, encode_cursor
from .charts import stacked_bars
from .dashboard import SESSION_KEY, operator_required, query_with
from .models import AccountType, ApiKey, LinkedAccount, LinkedAccountStatus, SyncFrequency
from .origins import origins_normalize
from .selectors import organizations_for_user

CHART_STATUSES = ("COMPLETE", "IDLE", "RELINK_NEEDED", "INCOMPLETE")


def _environment(request) -> str:
    return AccountType.TEST if request.GET.get("environment") == "test" else AccountType.PRODUCTION


def _chart(days: list[dict], *, width: int = 720, height: int = 200) -> dict:
    """Stacked bars, one per day, drawn by the template as SVG rects, and the same numbers for
    the table beside the chart. Every 7th day counting back from today gets a date label
    (evenly spaced, so they stay apart when the labels grow on a phone)."""
    top = max((sum(d[s] for s in CHART_STATUSES) for d in days), default=0) or 1
    bars = stacked_bars(
        days,
        segments=CHART_STATUSES,
        value=lambda day, status: day[status],
        width=width,
        height=height,
        top=top,
    )
    slot = width / max(len(days), 1)
    last = len(days) - 1
    # The latest label ends at the right edge; the others start at their bar.
    labels = [
        {"day": day["day"], "x": round((i + 1) * slot, 2), "anchor": "end"}
        if i == last
        else {"day": day["day"], "x": bar.x, "anchor": "start"}
        for i, (day, bar) in enumerate(zip(days, bars, strict=True))
        if (last - i) % 7 == 0
    ]
    rows = [
        {
            "day": day["day"],
            "counts": [day[s] for s in CHART_STATUSES],
            "total": sum(day[s] for s in CHART_STATUSES),
        }
        for day in reversed(days)
    ]
    return {"bars": bars, "labels": labels, "rows": rows, "width": width, "height": height, "top": top}


@require_GET
@operator_required
def home(request):
    organization = request.organization
    environment = _environment(request)
    counts = {s: 0 for s in LinkedAccountStatus.values}
    test_total = 0
    for row in (
        LinkedAccount.objects.filter(organization=organization)
        .values("account_type", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        if row["account_type"] == environment:
            counts[row["status"]] = row["n"]
        if row["account_type"] == AccountType.TEST:
            test_total += row["n"]
    days = status_counts_by_day(organization=organization, account_type=environment, days=30)
    return render(
        request,
        "accounts/home.html",
        {
            "counts": [(s, LinkedAccountStatus(s).label, counts[s]) for s in LinkedAccountStatus.values],
            "total": sum(counts.values()),
            "environment": environment,
            "chart": _chart(days),
            "chart_statuses": [(s, LinkedAccountStatus(s).label) for s in CHART_STATUSES],
            "days": days,
        },
    )


@require_POST
@login_required
def organization_switch(request):
    try:
        org_id = uuid.UUID(request.POST.get("organization", ""))
    except ValueError:
        raise Http404("No such organization.")
    organization = organizations_for_user(user=request.user).filter(pk=org_id).first()
    if organization is None:
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = str(organization.pk)
    target = request.POST.get("next") or reverse("dash-home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dash-home")
    # Detail pages belong to the previous organization: land on the section's list.
    segments = target.split("?")[0].strip("/").split("/")
    if len(segments) > 1:
        target = "/" + segments[0]
    return redirect(target)


def _parse_month(raw: str | None) -> date | None:
    """YYYY-MM, not in the future; None when malformed."""
    try:
        return parse_month(raw)
    except ValueError:
        return None


def _previous_month(value: date) -> date:
    return (value.replace(day=1) - timezone.timedelta(days=1)).replace(day=1)


def _next_month(value: date) -> date:
    return (value.replace(day=28) + timezone.timedelta(days=4)).replace(day=1)


def _of_billing_month(view):
    """A billing view of the month the request asks for, called as view(request, month, usage)
    with the month's totals (a closed month is stored on its first read); a month that is
    malformed or in the future is a 400."""

    @functools.wraps(view)
    def wrapper(request):
        month = _parse_month(request.GET.get("month"))
        if month is None:
            return HttpResponseBadRequest("Invalid month: use YYYY-MM, not in the future.")
        billing_month_close(organization=request.organization, month=month)  # once per closed month
        return view(request, month, billing_month_summary(organization=request.organization, month=month))

    return wrapper


@require_GET
@operator_required
@_of_billing_month
def billing(request, month, usage):
    this_month = timezone.now().date().replace(day=1)
    try:
        after = decode_cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    except ValueError:
        return HttpResponseBadRequest("Invalid cursor.")
    # A page of accounts by id (the order they were linked), never the whole month's.
    rows, next_after = billing_accounts_page(organization=request.organization, month=month, after=after)
    return render(
        request,
        "accounts/billing.html",
        {
            "usage": usage,
            "rows": rows,
            "next_url": next_after and query_with(request, cursor=encode_cursor(str(next_after))),
            "first_url": after and query_with(request, cursor=None),
            "is_paged": after is not None or next_after is not None,
            "month": month,
            "previous_month": _previous_month(month).strftime("%Y-%m"),
            "next_month": _next_month(month).strftime("%Y-%m") if month < this_month else None,
            "max_month": this_month.strftime("%Y-%m"),
        },
    )


@require_GET
@operator_required
@_of_billing_month
def billing_csv(request, month, usage):
    accounts = billing_accounts_iter(organization=request.organization, month=month)
    response = StreamingHttpResponse(
        _billing_csv_lines(usage, accounts), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="relink-billing-{usage["month"]}.csv"'
    return response


class _Line:
    """csv.writer's file: hands back the line it is given (streamed, never all in memory)."""

    def write(self, value: str) -> str:
        return value


def _billing_csv_lines(usage: dict, accounts) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(
        [
            "linked_account_id",
            "end_user_origin_id",
            "end_user_organization_name",
            "integration",
            "account_type",
            "status",
            "billable_days",
            "relink_needed_days",
            "incomplete_days",
            "test_days",
            "deleted_days",
        ]
    )
    chunk = []
    for a in accounts:
        chunk.append(
            writer.writerow(
                [
                    a["linked_account_id"],
                    _csv_safe(a["end_user_origin_id"]),
                    _csv_safe(a["end_user_organization_name"]),
                    a["integration"],
                    a["account_type"],
                    a["status"],
                    a["billable_days"],
                    a["excluded_days"]["relink_needed"],
                    a["excluded_days"]["incomplete"],
                    a["excluded_days"]["test"],
                    a["excluded_days"]["deleted"],
                ]
            )
        )
        if len(chunk) == 1000:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
    yield writer.writerow([])
    yield writer.writerow(["month", usage["month"]])
    yield writer.writerow(["days_in_month", usage["days_in_month"]])
    yield writer.writerow(["billable_account_days", usage["billable_account_days"]])
    yield writer.writerow(["average_billable_accounts", usage["average_billable_accounts"]])


def _csv_safe(value: str) -> str:
    """End users name their organizations: keep spreadsheet formulas out of the CSV."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


class SettingsForm(forms.Form):
    default_sync_frequency = forms.ChoiceField(choices=SyncFrequency.choices)
    relink_support_text = forms.CharField(widget=forms.Textarea, max_length=2000, required=False)
    relink_reminder_days = forms.IntegerField(
        min_value=1, max_value=90, required=False, help_text="Days between reminders; empty: no reminders."
    )
    embedding_origins = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        required=False,
        help_text="One origin a line, e.g. https://app.example.com; empty: nobody may embed the link page.",
    )

    def clean_embedding_origins(self) -> list[str]:
        try:
            return origins_normalize(self.cleaned_data["embedding_origins"].splitlines())
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class ApiKeyForm(forms.Form):
    environment = forms.ChoiceField(choices=AccountType.choices)
    name = forms.CharField(max_length=100, required=False)


def _saved_settings_form(organization) -> SettingsForm:
    """The settings form showing what the organization has saved."""
    return SettingsForm(
        initial={
            "default_sync_frequency": organization.default_sync_frequency,
            "relink_support_text": organization.relink_support_text,
            "relink_reminder_days": organization.relink_reminder_days,
            "embedding_origins": "\n".join(organization.embedding_origins),
        }
    )


@require_http_methods(["GET", "POST"])
@operator_required
def settings_page(request):
    organization = request.organization
    form = _saved_settings_form(organization)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            services.organization_update_settings(organization=organization, **form.cleaned_data)
            messages.success(request, "Settings saved.")
            return redirect("dash-settings")
    return _render_settings(request, form=form)


def _render_settings(request, *, form: SettingsForm, new_key: dict | None = None, status: int = 200):
    keys = ApiKey.objects.filter(organization=request.organization).order_by("revoked_at", "-created_at")
    return render(
        request,
        "accounts/settings.html",
        {"form": form, "key_form": ApiKeyForm(), "keys": keys, "new_key": new_key},
        status=status,
    )


@require_POST
@operator_required
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an environment for the new key.")
        return redirect("dash-settings")
    key, raw = services.api_key_create(organization=request.organization, **form.cleaned_data)
    # The key is in this response only: it is stored nowhere but as a keyed hash.
    return _render_settings(
        request,
        form=_saved_settings_form(request.organization),
        new_key={"raw": raw, "environment": key.environment, "name": key.name},
    )


@require_POST
@operator_required
def api_key_revoke(request, key_id):
    key = ApiKey.objects.filter(organization=request.organization, pk=key_id).first()
    if key is None:
        raise Http404("No such API key.")
    services.api_key_revoke(key=key)
    messages.success(request, f"Revoked the key {key.prefix}…")
    return redirect("dash-settings")
