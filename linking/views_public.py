"""The end-user link and relink page: one page, its steps as template partials. With htmx each
step swaps into the panel; without JavaScript every link and form still works as a full page."""

import functools

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts import catalog
from accounts.login_throttle import client_ip

from .attempt_limits import link_attempt_record
from .finish import LINK_TOKEN_PROBLEM_MESSAGES, LinkProblem, link_finish
from .models import LinkToken
from .selectors import (
    integration_allowed_for_token,
    integrations_for_link,
    link_token_find,
    link_token_problem,
    relink_broke_again,
    relink_explanation,
)

TEMPLATE = "linking/link.html"
PROBLEM_STATUS = {"unknown": 404, "used": 410, "expired": 410}
# Errors on the form answer 200 (a normal form page; and Django logs the path, which holds the
# live link token, of every 4xx response).
# Form inputs carry this prefix so that no credential name can collide with Django's own fields.
FIELD_PREFIX = "credential-"


def _render(request: HttpRequest, step: str, context: dict, status: int = 200) -> HttpResponse:
    context = {"step": step, **context}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, f"{TEMPLATE}#{step}", context, status=200)
    else:
        response = render(request, TEMPLATE, context, status=status)
    # The page runs in a popup (or frame) of the customer's app and reports back to it with
    # postMessage: Django's default COOP (same-origin) would cut the popup off from its opener.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    # Only the organization's embedding origins may frame it (the same ones its script posts
    # to); nobody when it has none, or when the page names no organization.
    response._csp_replace = {"frame-ancestors": list(context.get("embedding_origins") or ["'none'"])}
    return response


def _problem(
    request: HttpRequest, code: str, message: str | None = None, status: int | None = None
) -> HttpResponse:
    """A page that says what is wrong. Dead tokens answer 404/410; problems with a live token
    answer 200, because Django logs the path (which holds the token) of every 4xx."""
    return _render(
        request,
        "problem",
        {"message": message or LINK_TOKEN_PROBLEM_MESSAGES[code], "title": "This link can't be used"},
        status=status or PROBLEM_STATUS.get(code, 400),
    )


def _common(request: HttpRequest, token: LinkToken, raw_token: str) -> dict:
    magic = request.GET.get("mode") == "magic" or request.POST.get("mode") == "magic"
    account = token.linked_account
    context = {
        "raw_token": raw_token,
        "magic": magic,
        "mode_query": "?mode=magic" if magic else "",
        "organization_name": token.organization.name,
        "embedding_origins": token.organization.embedding_origins,
        "end_user_organization_name": token.end_user_organization_name,
        "language": token.language or "en",
        "relink_account": account,
    }
    if account is not None:
        context["relink_reason"] = relink_explanation(account=account)
        if relink_broke_again(account=account):
            context["support_text"] = token.organization.relink_support_text
    return context


def _fixed_integration(token: LinkToken) -> str:
    if token.linked_account is not None:
        return token.linked_account.integration
    return token.integration


def _form_context(integration: str, error: str = "", support_text: str = "") -> dict:
    info = catalog.get(integration)
    fields = [
        {
            "name": f"{FIELD_PREFIX}{field.name}",
            "id": f"field-{field.name}",
            "label": field.label,
            "secret": field.secret,
            "help_text": field.help_text,
            "placeholder": field.placeholder,
        }
        for field in info.credential_fields
    ]
    context = {"integration": info, "fields": fields, "error": error}
    if support_text:
        context["support_text"] = support_text
    return context


def _load(raw_token: str) -> tuple[LinkToken | None, str | None]:
    token = link_token_find(raw_token=raw_token)
    return token, link_token_problem(token=token)


def _usable_link_token(view):
    """A view of the link page for the token in its URL, called as view(request, link_token,
    token, ...) when the token can be used; the problem page (unknown, used, expired) if not."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs) -> HttpResponse:
        link_token, problem = _load(token)
        if problem:
            return _problem(request, problem)
        return view(request, link_token, token, **kwargs)

    return wrapper


@xframe_options_exempt
@require_GET
@_usable_link_token
def link_page(request: HttpRequest, link_token: LinkToken, token: str) -> HttpResponse:
    context = _common(request, link_token, token)
    fixed = _fixed_integration(link_token)
    if fixed and not integration_allowed_for_token(token=link_token, slug=fixed):
        return _problem(request, "integration", "This integration is not offered with this link.", status=200)
    if fixed:
        return _render(request, "form", {**context, **_form_context(fixed), "can_go_back": False})
    return _render(request, "chooser", {**context, "integrations": integrations_for_link(token=link_token)})


@xframe_options_exempt
@require_GET
@_usable_link_token
def link_form(request: HttpRequest, link_token: LinkToken, token: str, integration: str) -> HttpResponse:
    fixed = _fixed_integration(link_token)
    allowed = [fixed] if fixed else [i.slug for i in integrations_for_link(token=link_token)]
    if integration not in allowed or not integration_allowed_for_token(token=link_token, slug=integration):
        return _problem(request, "integration", "This integration is not offered with this link.", status=200)
    context = _common(request, link_token, token)
    return _render(request, "form", {**context, **_form_context(integration), "can_go_back": not fixed})


@xframe_options_exempt
@require_POST
@_usable_link_token
def link_submit(request: HttpRequest, link_token: LinkToken, token: str, integration: str) -> HttpResponse:
    fixed = _fixed_integration(link_token)
    if catalog.get(integration).auth_type == "OAUTH2":
        return _problem(
            request, "integration", "This integration connects through its own sign-in page.", status=200
        )
    credentials = {
        key[len(FIELD_PREFIX) :]: value for key, value in request.POST.items() if key.startswith(FIELD_PREFIX)
    }
    context = _common(request, link_token, token)
    lock = link_attempt_record(raw_token=token, ip=client_ip(request))
    if lock is not None:
        form = _form_context(integration, error=lock.message)
        response = _render(request, "form", {**context, **form, "can_go_back": not fixed}, status=429)
        response["Retry-After"] = str(lock.retry_after)
        return response
    try:
        result = link_finish(link_token=token, integration=integration, credentials=credentials)
    except LinkProblem as exc:
        if exc.code in PROBLEM_STATUS:
            return _problem(request, exc.code)
        if exc.code == "integration":
            return _problem(request, "integration", exc.message, status=200)
        form = _form_context(integration, error=exc.message)
        return _render(request, "form", {**context, **form, "can_go_back": not fixed})
    if not result.ok:
        form = _form_context(integration, error=result.message, support_text=result.support_text)
        return _render(request, "form", {**context, **form, "can_go_back": not fixed})
    return _render(
        request,
        "success",
        {
            **context,
            "integration": catalog.get(result.account.integration),
            "public_token": "" if context["magic"] else result.public_token,
            "is_relink": result.is_relink,
        },
    )
