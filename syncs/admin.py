"""Read-mostly admin for sync runs, handed-out accounts, request logs and synced records (every
common model); one action: force resync."""

from django.contrib import admin, messages

from accounts.admin_base import ServiceWrittenAdmin
from accounts.models import LinkedAccount

from . import dispatch
from .models import Candidate, Contact, Employee, OAuthToken, RequestLog, SyncDispatch, SyncRun


class ReadOnlyAdmin(ServiceWrittenAdmin):
    """Shown, and deletable; never added or changed here."""

    deletable = True


@admin.action(description="Force a resync of these runs' linked accounts")
def force_resync(modeladmin, request, queryset):
    account_ids = set(queryset.values_list("linked_account_id", flat=True))
    for account in LinkedAccount.objects.filter(pk__in=account_ids):
        dispatch.sync_queue_now(account=account, reason=f"Forced by operator {request.user}")
    modeladmin.message_user(request, f"Queued {len(account_ids)} resync(s).", messages.SUCCESS)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "linked_account",
        "integration",
        "trigger",
        "status",
        "error_class",
        "requests_total",
        "requests_failed",
        "records_fetched",
        "finished_at",
    )
    list_filter = ("status", "trigger", "error_class", "integration")
    search_fields = ("linked_account__end_user_origin_id", "linked_account__end_user_organization_name")
    list_select_related = ("linked_account",)
    date_hierarchy = "started_at"
    actions = [force_resync]
    show_full_result_count = False


@admin.register(SyncDispatch)
class SyncDispatchAdmin(ReadOnlyAdmin):
    """Accounts the dispatcher handed out whose runs have not finished yet."""

    list_display = ("linked_account", "leased_until")
    raw_id_fields = ("linked_account",)
    show_full_result_count = False


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "integration", "method", "url", "status_code", "duration_ms", "error_class")
    list_filter = ("error_class", "integration", "method")
    raw_id_fields = ("linked_account", "sync_run")
    show_full_result_count = False


@admin.register(Employee)
class EmployeeAdmin(ReadOnlyAdmin):
    list_display = (
        "display_full_name",
        "remote_id",
        "linked_account",
        "employment_status",
        "remote_was_deleted",
    )
    list_filter = ("employment_status", "remote_was_deleted")
    search_fields = ("remote_id", "display_full_name", "work_email")
    raw_id_fields = ("linked_account",)
    exclude = ("ssn_encrypted", "date_of_birth_encrypted")  # sensitive: only through the API, on request
    show_full_result_count = False


@admin.register(Candidate)
class CandidateAdmin(ReadOnlyAdmin):
    list_display = ("first_name", "last_name", "remote_id", "linked_account", "company", "remote_was_deleted")
    list_filter = ("remote_was_deleted",)
    search_fields = ("remote_id", "first_name", "last_name", "company")
    raw_id_fields = ("linked_account",)
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("first_name", "last_name", "remote_id", "linked_account", "remote_was_deleted")
    list_filter = ("remote_was_deleted",)
    search_fields = ("remote_id", "first_name", "last_name")
    raw_id_fields = ("linked_account",)
    show_full_result_count = False


@admin.register(OAuthToken)
class OAuthTokenAdmin(ReadOnlyAdmin):
    """When each OAuth account's tokens were last rotated and when its grant ends (never the
    tokens themselves)."""

    list_display = ("linked_account", "generation", "access_expires_at", "grant_expires_at", "refreshed_at")
    fields = (
        "linked_account",
        "generation",
        "access_expires_at",
        "grant_expires_at",
        "grant_expiry_warned_at",
        "refreshed_at",
        "created_at",
    )
    readonly_fields = fields
