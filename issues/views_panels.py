"""Dashboard: the issues panel of an account page (its issues, and the hint to relink when its
credentials stopped working). An HTMX partial the page loads, and a page of its own at the same
URL."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.dashboard import linked_account_or_404, operator_required

from .models import CREDENTIAL_ERRORS, IssueStatus
from .selectors import issues_for_account

TEMPLATE = "issues/account_issues.html"


@require_GET
@operator_required
def account_issues(request, account_id):
    account = linked_account_or_404(request, account_id)
    issues = list(issues_for_account(account=account)[:50])
    return render(
        request,
        f"{TEMPLATE}#panel" if request.htmx else TEMPLATE,
        {
            "account": account,
            "issues": issues,
            "has_credential_issue": any(
                i.status == IssueStatus.ONGOING and i.error_description in CREDENTIAL_ERRORS for i in issues
            ),
        },
    )
