from rest_framework import serializers

from .api import CommaSeparatedField, CursorParams
from .models import AccountType, Category, LinkedAccountStatus


class AccountDetailsSerializer(serializers.Serializer):
    """Output of GET /account-details (built by selectors.linked_account_details)."""

    id = serializers.UUIDField()
    integration = serializers.CharField()
    integration_slug = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    end_user_origin_id = serializers.CharField()
    end_user_organization_name = serializers.CharField()
    end_user_email_address = serializers.EmailField()
    status = serializers.ChoiceField(choices=LinkedAccountStatus.choices)
    webhook_listener_url = serializers.URLField(required=False, help_text="Absent when none is set.")
    is_duplicate = serializers.BooleanField(allow_null=True)
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    completed_at = serializers.DateTimeField(allow_null=True)


# Merge's AccountIntegration (the account-token response); IntegrationSerializer adds whether
# passthrough is available (a linked account's integration). Comments, not docstrings: the
# OpenAPI schema (docs/openapi.yaml) describes neither.
class AccountIntegrationSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    image = serializers.CharField(allow_blank=True)
    square_image = serializers.CharField(allow_blank=True)
    auth_type = serializers.ChoiceField(choices=["API_KEY", "BASIC", "OAUTH2"], required=False)
    color = serializers.CharField()


class IntegrationSerializer(AccountIntegrationSerializer):
    passthrough_available = serializers.BooleanField()


class LinkedAccountSerializer(serializers.Serializer):
    """An item of GET /linked-accounts (Merge's AccountDetailsAndActions)."""

    id = serializers.UUIDField()
    category = serializers.ChoiceField(choices=Category.choices)
    status = serializers.ChoiceField(choices=LinkedAccountStatus.choices)
    status_detail = serializers.CharField(allow_blank=True)
    end_user_origin_id = serializers.CharField()
    end_user_organization_name = serializers.CharField()
    end_user_email_address = serializers.EmailField()
    webhook_listener_url = serializers.CharField(allow_blank=True)
    is_duplicate = serializers.BooleanField(allow_null=True)
    integration = IntegrationSerializer()
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    completed_at = serializers.DateTimeField(
        help_text="When linking completed (or, not linked yet, started)."
    )


STATUS_DETAIL = {
    LinkedAccountStatus.COMPLETE: "",
    LinkedAccountStatus.INCOMPLETE: "The end user has not finished linking this account.",
    LinkedAccountStatus.RELINK_NEEDED: "The credentials stopped working: the end user needs to relink the account.",
    LinkedAccountStatus.IDLE: "No API requests for this account recently; it syncs at most daily.",
}


def status_detail(account) -> str:
    """The API's status_detail: why the account is in its status, as a string ("" for COMPLETE)."""
    if account.status == LinkedAccountStatus.INCOMPLETE and account.status_detail:
        return account.status_detail
    return STATUS_DETAIL[account.status]


class BooleanString(serializers.ChoiceField):
    """Merge passes booleans in query strings as 'true'/'false'."""

    def __init__(self, **kwargs):
        super().__init__(choices=["true", "false", "True", "False", "1", "0"], **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data) in ("true", "True", "1")


class LinkedAccountFilterSerializer(CursorParams):
    status = serializers.ChoiceField(choices=LinkedAccountStatus.choices, required=False)
    end_user_origin_id = serializers.CharField(required=False, max_length=255)
    end_user_origin_ids = CommaSeparatedField(
        child=serializers.CharField(max_length=255), required=False, max_length=10_000
    )
    end_user_email_address = serializers.CharField(required=False, max_length=255)
    end_user_organization_name = serializers.CharField(required=False, max_length=255)
    id = serializers.UUIDField(required=False)
    ids = CommaSeparatedField(child=serializers.UUIDField(), required=False, max_length=10_000)
    integration_name = serializers.CharField(required=False, max_length=100)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    is_test_account = BooleanString(required=False)
    include_duplicates = BooleanString(required=False)


class RegeneratedTokenSerializer(serializers.Serializer):
    linked_account_id = serializers.UUIDField()
    account_token = serializers.CharField()
