from django.contrib import admin

from accounts.admin_base import ServiceWrittenAdmin

from .models import LinkAttempt, LinkToken, OAuthConsent, PublicToken, RelinkEmail


class ReadOnlyAdmin(ServiceWrittenAdmin):
    """Tokens and e-mail records are written by the link flow only; the admin shows them (and
    may delete them)."""

    deletable = True


@admin.register(LinkToken)
class LinkTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "end_user_origin_id",
        "organization",
        "account_type",
        "is_relink",
        "created_at",
        "expires_at",
        "used_at",
    )
    list_filter = ("account_type", "is_relink", "is_magic_link")
    search_fields = ("end_user_origin_id", "end_user_organization_name")
    list_select_related = ("organization",)
    # The hash is no secret, but nobody needs to read it.
    exclude = ("token_hash",)


@admin.register(RelinkEmail)
class RelinkEmailAdmin(ReadOnlyAdmin):
    list_display = ("to_address", "linked_account", "kind", "sent_by", "sent_at", "link_expires_at")
    list_filter = ("kind",)
    list_select_related = ("linked_account", "sent_by")
    exclude = ("link_token",)


@admin.register(PublicToken)
class PublicTokenAdmin(ReadOnlyAdmin):
    list_display = ("linked_account", "organization", "account_type", "created_at", "expires_at", "used_at")
    list_filter = ("account_type",)
    list_select_related = ("organization", "linked_account")
    raw_id_fields = ("linked_account", "link_token")
    exclude = ("token_hash",)


@admin.register(OAuthConsent)
class OAuthConsentAdmin(ReadOnlyAdmin):
    """OAuth consent round trips of the link page (never their state, nonce or verifier)."""

    list_display = ("integration", "link_token", "popup", "magic", "created_at", "expires_at", "used_at")
    fields = (
        "integration",
        "link_token",
        "redirect_uri",
        "popup",
        "magic",
        "created_at",
        "expires_at",
        "used_at",
    )
    readonly_fields = fields


@admin.register(LinkAttempt)
class LinkAttemptAdmin(ReadOnlyAdmin):
    list_display = ("linked_account", "integration", "succeeded", "error_description", "created_at")
    list_filter = ("succeeded", "error_description")
    list_select_related = ("linked_account",)
    raw_id_fields = ("linked_account",)
