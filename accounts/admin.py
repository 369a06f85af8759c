from django.contrib import admin, messages

from . import services
from .admin_base import ServiceWrittenAdmin
from .models import (
    ApiKey,
    BillingMonth,
    BillingMonthAccount,
    LinkedAccount,
    LinkedAccountStatusChange,
    Membership,
    Organization,
)


class ReadMostlyAdmin(ServiceWrittenAdmin):
    editable = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "default_sync_frequency", "created_at")
    search_fields = ("name",)
    readonly_fields = ("id", "created_at")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "created_at")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("organization",)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadMostlyAdmin):
    list_display = ("prefix", "organization", "environment", "created_at", "revoked_at")
    list_select_related = ("organization",)
    list_filter = ("environment",)
    exclude = ("key_hash",)
    readonly_fields = ("id", "organization", "environment", "name", "prefix", "created_at", "revoked_at")
    actions = ["revoke"]

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(key=key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(LinkedAccount)
class LinkedAccountAdmin(ReadMostlyAdmin):
    list_display = (
        "id",
        "organization",
        "integration",
        "end_user_origin_id",
        "status",
        "account_type",
        "created_at",
    )
    list_select_related = ("organization",)
    list_filter = ("status", "account_type", "category", "integration")
    search_fields = ("end_user_origin_id", "end_user_organization_name", "end_user_email_address")
    exclude = ("account_token_hash", "account_token_encrypted", "credentials_encrypted")
    readonly_fields = [
        f
        for f in (
            "id",
            "organization",
            "category",
            "integration",
            "end_user_origin_id",
            "end_user_organization_name",
            "end_user_email_address",
            "account_type",
            "status",
            "webhook_listener_url",
            "is_duplicate",
            "completed_at",
            "created_at",
            "updated_at",
            "sync_frequency",
            "next_sync_at",
            "last_inbound_at",
        )
    ]
    actions = ["delete_accounts"]

    @admin.action(description="Delete the selected linked accounts (purges credentials and data)")
    def delete_accounts(self, request, queryset):
        count = 0
        for account in queryset:
            services.linked_account_delete(account=account, reason=f"Deleted in admin by {request.user}")
            count += 1
        messages.success(request, f"Deleted {count} linked account(s).")


@admin.register(LinkedAccountStatusChange)
class LinkedAccountStatusChangeAdmin(ServiceWrittenAdmin):
    list_display = ("at", "linked_account_uuid", "from_status", "to_status", "reason", "processed_at")
    list_filter = ("to_status", "account_type")
    # Every column (history is never edited), in the model's order.
    readonly_fields = [f.name for f in LinkedAccountStatusChange._meta.fields if f.name != "id"]


class _StoredBillingAdmin(ServiceWrittenAdmin):
    """A closed month's stored billing (accounts.billing_months): read-only, as the month is."""


@admin.register(BillingMonth)
class BillingMonthAdmin(_StoredBillingAdmin):
    list_display = ("month", "organization", "account_type", "billable_days", "created_at")
    list_filter = ("account_type",)


@admin.register(BillingMonthAccount)
class BillingMonthAccountAdmin(_StoredBillingAdmin):
    list_display = ("month", "linked_account_uuid", "account_type", "billable_days", "status")
    list_filter = ("account_type",)
    list_select_related = ("organization",)
