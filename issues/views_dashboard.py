"""Dashboard: the Issues tab (with the relink snippet) and the webhook pages."""

import json
import shlex
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import catalog
from accounts.dashboard import filtered_by, operator_required, pager_links, query_with
from accounts.models import AccountType
from accounts.paging import BadCursor, keyset_page
from accounts.selectors import filter_given

from . import selectors, services
from .models import CREDENTIAL_ERRORS, DeliveryStatus, ErrorDescription, IssueStatus, WebhookEvent
from .webhooks import endpoints as webhook_endpoints
from .webhooks import events as webhook_events
from .webhooks import sweeps as webhook_sweeps

PAGE_SIZE = 50
ENVIRONMENTS = {"production": AccountType.PRODUCTION, "test": AccountType.TEST}


class IssueFilters(forms.Form):
    status = forms.ChoiceField(choices=IssueStatus.choices, required=False)
    error_description = forms.ChoiceField(
        choices=[("", "Any error"), *ErrorDescription.choices], required=False
    )
    environment = forms.ChoiceField(
        choices=[("", "All environments"), ("production", "Production"), ("test", "Test")], required=False
    )
    muted = forms.ChoiceField(
        choices=[("", "Muted and unmuted"), ("hide", "Hide muted"), ("only", "Only muted")], required=False
    )
    integration = forms.CharField(required=False, max_length=64)
    account = forms.UUIDField(required=False)
    cursor = forms.CharField(required=False, max_length=500)


def relink_snippets(*, account, base_url: str) -> dict[str, str]:
    """The POST /link-token call that starts this account's relink (same end_user_origin_id),
    in curl and in Python with Merge's SDK (MergePythonClient) pointed at Relink."""
    body = {
        "end_user_origin_id": account.end_user_origin_id,
        "end_user_organization_name": account.end_user_organization_name,
        "end_user_email_address": account.end_user_email_address,
        "categories": [account.category],
        "integration": account.integration,
    }
    curl = (
        f"curl -X POST {shlex.quote(f'{base_url}/api/{account.category}/v1/link-token')} \\\n"
        '  -H "Authorization: Bearer $RELINK_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(json.dumps(body))}"
    )
    python = (
        "import os\n\n"
        "from merge import Merge  # pip install MergePythonClient\n\n"
        f'client = Merge(base_url={json.dumps(base_url + "/api")}, api_key=os.environ["RELINK_API_KEY"])\n'
        f"link_token = client.{account.category}.link_token.create(\n"
        f"    end_user_origin_id={json.dumps(account.end_user_origin_id)},\n"
        f"    end_user_organization_name={json.dumps(account.end_user_organization_name)},\n"
        f"    end_user_email_address={json.dumps(account.end_user_email_address)},\n"
        f"    categories=[{json.dumps(account.category)}],\n"
        f"    integration={json.dumps(account.integration)},\n"
        ")\n"
        "# Open Merge Link (or Relink's link page) with link_token.link_token."
    )
    return {"curl": curl, "python": python}


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@require_GET
@operator_required
@filtered_by(IssueFilters)
def issue_list(request, form):
    f = form.cleaned_data
    status = f["status"] or IssueStatus.ONGOING
    account_type = ENVIRONMENTS.get(f["environment"])
    qs = selectors.issues_for_organization(
        organization=request.organization,
        account_type=account_type,
        status=status,
        include_muted=f["muted"] != "hide",
        linked_account_id=f["account"],
        error_description=f["error_description"] or None,
        integration_name=f["integration"] or None,
    )
    if f["muted"] == "only":
        qs = qs.filter(is_muted=True)
    try:
        page = keyset_page(queryset=qs, keys=("id",), cursor=f["cursor"] or None, page_size=PAGE_SIZE)
    except BadCursor:
        return HttpResponseBadRequest("Invalid cursor.")
    base_url = _base_url(request)
    rows = []
    for issue in page.rows:
        is_credential = issue.error_description in CREDENTIAL_ERRORS and issue.status == IssueStatus.ONGOING
        rows.append(
            {
                "issue": issue,
                "account": issue.linked_account,
                "integration": catalog.get(issue.linked_account.integration),
                "snippets": relink_snippets(account=issue.linked_account, base_url=base_url)
                if is_credential
                else None,
            }
        )
    return render(
        request,
        "issues/dashboard_issues.html",
        {
            "form": form,
            "rows": rows,
            "status": status,
            "counts": selectors.issue_counts_for_organization(
                organization=request.organization, account_type=account_type
            ),
            "ongoing_url": query_with(request, status=IssueStatus.ONGOING, cursor=None),
            "resolved_url": query_with(request, status=IssueStatus.RESOLVED, cursor=None),
            **pager_links(request, page),
            "back": request.get_full_path(),
            "integrations": catalog.all_integrations(),
        },
    )


def _issue_or_404(request, issue_id):
    issue = selectors.issue_for_organization(organization=request.organization, issue_id=issue_id)
    if issue is None:
        raise Http404("No such issue.")
    issue.linked_account.organization = request.organization
    return issue


def _back(request, fallback: str) -> str:
    """Where a form asked to return to: a path on this site, never elsewhere."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_GET
@operator_required
def issue_detail(request, issue_id):
    return _render_issue(request, _issue_or_404(request, issue_id))


def _render_issue(request, issue):
    account = issue.linked_account
    return render(
        request,
        "issues/dashboard_issue.html",
        {
            "issue": issue,
            "account": account,
            "integration": catalog.get(account.integration),
            "is_credential": issue.error_description in CREDENTIAL_ERRORS,
            "snippets": relink_snippets(account=account, base_url=_base_url(request)),
        },
    )


@require_POST
@operator_required
def issue_mute(request, issue_id):
    issue = _issue_or_404(request, issue_id)
    if request.POST.get("mute") == "0":
        services.issue_unmute(issue=issue)
        messages.success(request, "Issue unmuted.")
    else:
        services.issue_mute(issue=issue, muted_by=request.user.get_username())
        messages.success(request, "Issue muted.")
    return redirect(_back(request, reverse("dash-issue", args=[issue.id])))


# Webhooks


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, label="URL")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(e.value, e.value) for e in WebhookEvent],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event.",
    )
    enabled = forms.BooleanField(required=False, initial=True)


class DeliveryFilters(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *DeliveryStatus.choices], required=False)
    event = forms.ChoiceField(choices=[("", "Any event"), *WebhookEvent.choices], required=False)
    cursor = forms.CharField(required=False, max_length=500)


def _deliveries_page(request, qs) -> tuple[dict | None, HttpResponseBadRequest | None]:
    """The deliveries table of a webhooks page (its filters, rows and pager links), or the 400
    for a bad filter or cursor."""
    form = DeliveryFilters(request.GET)
    if not form.is_valid():
        return None, HttpResponseBadRequest("Invalid filter.")
    f = form.cleaned_data
    qs = filter_given(qs, status=f["status"], event=f["event"])
    try:
        page = keyset_page(queryset=qs, keys=("id",), cursor=f["cursor"] or None, page_size=PAGE_SIZE)
    except BadCursor:
        return None, HttpResponseBadRequest("Invalid cursor.")
    return {"filters": form, "deliveries": page.rows, **pager_links(request, page)}, None


@require_http_methods(["GET", "POST"])
@operator_required
def webhook_list(request):
    organization = request.organization
    form = EndpointForm(initial={"enabled": True})
    new_key = None
    status = 200
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, key = webhook_endpoints.webhook_endpoint_create(
                    organization=organization, **form.cleaned_data
                )
            except ValidationError as exc:
                form.add_error("url" if exc.code in ("scheme", "invalid", "private") else None, exc.messages)
            else:
                # The signature key: in this response only.
                new_key = {"endpoint": endpoint, "key": key}
                form = EndpointForm(initial={"enabled": True})
        if not new_key:
            status = 400
    deliveries, bad_request = _deliveries_page(
        request, selectors.webhook_deliveries_for_organization(organization=organization)
    )
    if bad_request:
        return bad_request
    return render(
        request,
        "issues/dashboard_webhooks.html",
        {
            **deliveries,
            "form": form,
            "endpoints": list(selectors.webhook_endpoints_for_organization(organization=organization)),
            "notices": list(selectors.webhook_notices_for_organization(organization=organization)),
            "new_key": new_key,
        },
        status=status,
    )


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_for_organization(
        organization=request.organization, endpoint_id=endpoint_id
    )
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _render_endpoint(request, endpoint, *, form=None, new_key: str | None = None, status: int = 200):
    form = form or EndpointForm(
        initial={
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.events,
            "enabled": endpoint.enabled,
        }
    )
    deliveries, bad_request = _deliveries_page(
        request, selectors.webhook_deliveries_for_endpoint(endpoint=endpoint)
    )
    if bad_request:
        return bad_request
    return render(
        request,
        "issues/dashboard_webhook.html",
        {
            "endpoint": endpoint,
            "form": form,
            **deliveries,
            "new_key": new_key,
            "notices": [
                n
                for n in selectors.webhook_notices_for_organization(organization=request.organization)
                if n.endpoint_id == endpoint.id
            ],
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@operator_required
def webhook_detail(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                webhook_endpoints.webhook_endpoint_update(endpoint=endpoint, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, "Webhook endpoint saved.")
                return redirect("dash-webhook", endpoint_id=endpoint.id)
        endpoint.refresh_from_db()
        return _render_endpoint(request, endpoint, form=form, status=400)
    return _render_endpoint(request, endpoint)


@require_POST
@operator_required
def webhook_toggle(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    enable = request.POST.get("enabled") == "1"
    webhook_endpoints.webhook_endpoint_update(endpoint=endpoint, enabled=enable)
    messages.success(request, "Endpoint enabled." if enable else "Endpoint disabled.")
    return redirect(_back(request, reverse("dash-webhook", args=[endpoint.id])))


@require_POST
@operator_required
def webhook_rotate_key(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    key = webhook_endpoints.webhook_endpoint_rotate_key(endpoint=endpoint)
    messages.success(request, "New signature key created; the old one no longer signs deliveries.")
    return _render_endpoint(request, endpoint, new_key=key)


def _run_action(request, action, *, success: str) -> None:
    """Run a button's service call: the message it refuses with (a ValidationError) is shown as
    an error, otherwise `success`."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, success)


@require_POST
@operator_required
def webhook_send_test(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    _run_action(
        request,
        lambda: webhook_events.webhook_endpoint_send_test(endpoint=endpoint),
        success="Test event queued; it appears below in a moment.",
    )
    return redirect("dash-webhook", endpoint_id=endpoint.id)


@require_POST
@operator_required
def webhook_delete(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    webhook_endpoints.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return redirect("dash-webhooks")


@require_POST
@operator_required
def webhook_notice_acknowledge(request, notice_id):
    notice = next(
        (
            n
            for n in selectors.webhook_notices_for_organization(organization=request.organization)
            if n.pk == notice_id
        ),
        None,
    )
    if notice is None:
        raise Http404("No such notice.")
    webhook_endpoints.webhook_notice_acknowledge(notice=notice)
    return redirect(_back(request, reverse("dash-webhooks")))


def _delivery_or_404(request, delivery_id: uuid.UUID):
    delivery = selectors.webhook_delivery_for_organization(
        organization=request.organization, delivery_id=delivery_id
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


@require_GET
@operator_required
def delivery_detail(request, delivery_id):
    delivery = _delivery_or_404(request, delivery_id)
    return render(
        request,
        "issues/dashboard_delivery.html",
        {
            "delivery": delivery,
            "attempts": list(selectors.webhook_delivery_attempts(delivery=delivery)),
            "payload": _pretty(delivery.body),
        },
    )


SECRET_FIELDS = ("account_token",)


def _pretty(body: str) -> str:
    """The payload as sent, minus secrets: a LinkedAccount.linked delivery carries the new
    account token, which the dashboard never shows."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "(not JSON)"
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        for field in SECRET_FIELDS:
            if field in data:
                data[field] = "[redacted]"
    return json.dumps(payload, indent=2)


@require_POST
@operator_required
def delivery_redeliver(request, delivery_id):
    delivery = _delivery_or_404(request, delivery_id)
    _run_action(
        request,
        lambda: webhook_sweeps.webhook_delivery_redeliver(delivery=delivery),
        success="Redelivery queued.",
    )
    return redirect("dash-delivery", delivery_id=delivery.id)
