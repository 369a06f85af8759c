"""Shared machinery for the operator dashboard pages of every app (as `api.py` is for the REST
API): the current organization, the login/membership gate and keyset paging for HTML tables.

An operator only ever sees organizations they are a member of; everything a page shows is
looked up through `request.organization`, so another organization's objects are a 404."""

import functools
import uuid
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.http import urlencode

from .log_context import log_context_bind
from .models import LinkedAccount, Organization
from .paging import Page
from .selectors import organizations_for_user

SESSION_KEY = "relink_organization_id"


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def current_organization(request: HttpRequest) -> Organization | None:
    """The organization this request works on: `?organization=<id>` (a shareable link; 404 for a
    non-member), else the one chosen in the switcher, else the operator's first."""
    asked = request.GET.get("organization")
    if asked:
        org_id = _parse_uuid(asked)
        org = organizations_for_user(user=request.user).filter(pk=org_id).first() if org_id else None
        if org is None:
            raise Http404("No such organization.")
        request.session[SESSION_KEY] = str(org.pk)
        return org
    stored = _parse_uuid(request.session.get(SESSION_KEY))
    if stored:
        org = organizations_for_user(user=request.user).filter(pk=stored).first()
        if org is not None:
            return org
    org = organizations_for_user(user=request.user).first()
    if org is not None:
        request.session[SESSION_KEY] = str(org.pk)
    return org


def operator_required(view):
    """Login required, and a current organization the user belongs to (`request.organization`)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        organization = current_organization(request)
        if organization is None:
            return render(request, "accounts/no_organization.html", status=403)
        request.organization = organization
        log_context_bind(organization_id=organization.pk)
        return view(request, *args, **kwargs)

    return wrapper


def linked_account_or_404(request: HttpRequest, account_id: uuid.UUID) -> LinkedAccount:
    """The current organization's linked account, for an account page or one of its panels."""
    account = LinkedAccount.objects.filter(organization=request.organization, pk=account_id).first()
    if account is None:
        raise Http404("No such linked account.")
    account.organization = request.organization
    return account


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the organizations for the switcher (one query, only when rendered)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_organizations": organizations_for_user(user=user),
        "current_organization": getattr(request, "organization", None),
    }


def filtered_by(form_class: type[forms.Form]):
    """A list view's query-string filters, validated by `form_class`: the view gets the valid
    form as `form`; invalid filters are a 400 naming each bad field."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            form = form_class(request.GET)
            if not form.is_valid():
                return HttpResponseBadRequest(
                    "Invalid filter: " + "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items())
                )
            return view(request, *args, form=form, **kwargs)

        return wrapper

    return decorate


def pager_links(request: HttpRequest, page: Page) -> dict[str, str | None]:
    """`next_url` and `previous_url` of a keyset-paged table (templates/_pager.html): the
    current query string with the page's cursor, or None at either end."""
    return {
        "next_url": query_with(request, cursor=page.next_cursor) if page.next_cursor else None,
        "previous_url": query_with(request, cursor=page.previous_cursor) if page.previous_cursor else None,
    }


def query_with(request: HttpRequest, **changes: Any) -> str:
    """The current query string with some parameters replaced (None drops one)."""
    params = {k: v for k, v in request.GET.items()}
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return "?" + urlencode(params) if params else "?"
