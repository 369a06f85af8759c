"""Dashboard: the relink panel of an account page (the relink e-mails sent to its end user), and
the two ways to ask the end user to relink: a relink e-mail, a magic link. The panel is an HTMX
partial the page loads, and a page of its own at the same URL."""

import logging

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.dashboard import linked_account_or_404, operator_required

from .link_tokens import magic_link_create
from .relink_emails import relink_email_send
from .selectors import link_attempts_for_account, relink_emails_for_account

logger = logging.getLogger(__name__)
TEMPLATE = "linking/account_relink.html"


def _render_relink(request, account, *, partial: str | None, magic_link: str | None = None):
    return render(
        request,
        f"{TEMPLATE}#{partial}" if partial else TEMPLATE,
        {
            "account": account,
            "emails": list(relink_emails_for_account(account=account)[:20]),
            "attempts": link_attempts_for_account(account=account),
            "magic_link": magic_link,
        },
    )


@require_GET
@operator_required
def account_relink(request, account_id):
    account = linked_account_or_404(request, account_id)
    return _render_relink(request, account, partial="panel" if request.htmx else None)


@require_POST
@operator_required
def account_relink_email(request, account_id):
    account = linked_account_or_404(request, account_id)
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
    """The magic link is shown in this response only (it is a credential for the end user's
    relink): into the page that asked, with HTMX, else on the relink page."""
    account = linked_account_or_404(request, account_id)
    url = magic_link_create(
        account=account, base_url=request.build_absolute_uri("/").rstrip("/")
    ).magic_link_url
    return _render_relink(request, account, partial="magic-link" if request.htmx else None, magic_link=url)
