"""The link page's OAuth round trip: "Continue with …" sends the browser to the provider (the
whole page for a magic link, a popup when the page is embedded), and the provider sends it
back to the callback, which finishes the link through the same service as the form."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from accounts import catalog

from .finish import LinkProblem
from .oauth import CALLBACK_PATH, oauth_consent_finish, oauth_consent_start
from .selectors import integrations_for_link
from .views_public import _common, _fixed_integration, _load, _problem, _render

BROWSER_COOKIE = "relink_oauth_browser"


def _allowed(link_token, integration: str) -> bool:
    fixed = _fixed_integration(link_token)
    allowed = [fixed] if fixed else [i.slug for i in integrations_for_link(token=link_token)]
    return integration in allowed and catalog.get(integration).auth_type == "OAUTH2"


@xframe_options_exempt
@never_cache
@require_GET
def oauth_start(request: HttpRequest, token: str, integration: str) -> HttpResponse:
    link_token, problem = _load(token)
    if problem:
        return _problem(request, problem)
    if not _allowed(link_token, integration):
        return _problem(request, "integration", "This integration is not offered with this link.", status=200)
    from syncs.services_oauth import OAuthLinkError

    magic = request.GET.get("mode") == "magic"
    nonce = request.COOKIES.get(BROWSER_COOKIE, "")
    try:
        started = oauth_consent_start(
            raw_link_token=token,
            link_token=link_token,
            integration=integration,
            redirect_uri=request.build_absolute_uri(CALLBACK_PATH),
            popup=request.GET.get("popup") == "1" and not magic,
            magic=magic,
            browser_nonce=nonce if 20 <= len(nonce) <= 100 else "",
        )
    except (LinkProblem, OAuthLinkError) as exc:
        return _problem(request, getattr(exc, "code", "integration"), exc.message, status=200)
    response = HttpResponseRedirect(started.url)
    # A popup must keep its opener (the link page) to hand the result back to it.
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    # Binds the state to this browser. Lax: sent on the provider's top-level redirect back.
    response.set_cookie(
        BROWSER_COOKIE,
        started.browser_nonce,
        max_age=settings.OAUTH_STATE_TTL_SECONDS,
        path=CALLBACK_PATH,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


@never_cache
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    outcome = oauth_consent_finish(
        state=request.GET.get("state", ""),
        browser_nonce=request.COOKIES.get(BROWSER_COOKIE, ""),
        code=request.GET.get("code", ""),
        error=request.GET.get("error", ""),
    )
    context: dict = {"oauth_popup": outcome.popup}
    if outcome.link_token is not None:
        context.update(_common(request, outcome.link_token, outcome.raw_link_token))
        context.update(magic=outcome.magic, mode_query="?mode=magic" if outcome.magic else "")
    integration = catalog.get(outcome.integration) if outcome.integration else None
    if outcome.kind == "linked":
        finished = outcome.finished
        return _render(
            request,
            "success",
            {
                **context,
                "integration": catalog.get(finished.account.integration),
                "public_token": "" if outcome.magic else finished.public_token,
                "is_relink": finished.is_relink,
            },
        )
    if outcome.kind in ("declined", "missing_scopes", "failed"):
        return _render(
            request,
            "oauth_retry",
            {
                **context,
                "integration": integration,
                "message": outcome.message,
                "declined": outcome.kind == "declined",
                "support_text": outcome.finished.support_text if outcome.finished else "",
            },
        )
    return _render(
        request,
        "problem",
        {**context, "title": "We couldn't finish connecting", "message": outcome.message},
        status=400,
    )
