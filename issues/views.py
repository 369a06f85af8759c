from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.api import (
    OrganizationView,
    list_schema,
    paginate,
    paginated_response,
    validate_query,
)
from accounts.selectors import linked_account_for_token

from .selectors import ISSUE_API_FIELDS, issue_as_api, issue_for_organization, issues_for_organization
from .serializers import IssueFilterSerializer, IssueSerializer


def _later(a, b):
    return b if a is None else max(a, b) if b is not None else a


def _earlier(a, b):
    return b if a is None else min(a, b) if b is not None else a


class IssueListView(OrganizationView):
    @list_schema("issues_list", IssueFilterSerializer, IssueSerializer)
    def get(self, request, category):
        params = validate_query(IssueFilterSerializer, request)
        organization, environment = self.client.organization, self.client.environment
        linked_account_id = params.get("linked_account_id")
        if "account_token" in params:
            account = linked_account_for_token(
                raw_token=params["account_token"], organization=organization, account_type=environment
            )
            if account is None or (linked_account_id and linked_account_id != account.id):
                return paginated_response(next_cursor=None, previous_cursor=None, data=[])
            linked_account_id = account.id
        qs = issues_for_organization(
            organization=organization,
            account_type=environment,
            status=params.get("status"),
            include_muted=params.get("include_muted", False),
            linked_account_id=linked_account_id,
            integration_name=params.get("integration_name"),
            end_user_organization_name=params.get("end_user_organization_name"),
            first_incident_time_after=params.get("first_incident_time_after"),
            first_incident_time_before=params.get("first_incident_time_before"),
            # start_date / end_date are Merge's names for the most recent incident's window.
            last_incident_time_after=_later(params.get("last_incident_time_after"), params.get("start_date")),
            last_incident_time_before=_earlier(
                params.get("last_incident_time_before"), params.get("end_date")
            ),
        )
        qs = qs.only(*ISSUE_API_FIELDS)
        rows, next_cursor, previous_cursor = paginate(queryset=qs, params=params, keys=("created_at", "id"))
        data = [issue_as_api(issue=issue) for issue in rows]
        return paginated_response(next_cursor=next_cursor, previous_cursor=previous_cursor, data=data)


class IssueDetailView(OrganizationView):
    @extend_schema(operation_id="issues_retrieve", responses=IssueSerializer)
    def get(self, request, category, issue_id):
        issue = issue_for_organization(
            organization=self.client.organization, issue_id=issue_id, account_type=self.client.environment
        )
        if issue is None:
            raise NotFound("No issue with this id.")
        return Response(issue_as_api(issue=issue))
