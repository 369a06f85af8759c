from rest_framework import serializers

from accounts.models import Category
from accounts.serializers import AccountIntegrationSerializer


class LinkTokenRequestSerializer(serializers.Serializer):
    """Merge's EndUserDetailsRequest. Bounds that depend on each other (expiry with or without a
    magic link, integration against categories) are checked by `link_token_create`."""

    end_user_email_address = serializers.EmailField(max_length=255)
    end_user_organization_name = serializers.CharField(max_length=255)
    end_user_origin_id = serializers.CharField(max_length=255)
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.choices), allow_empty=False, max_length=len(Category)
    )
    integration = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    link_expiry_mins = serializers.IntegerField(required=False, allow_null=True)
    should_create_magic_link_url = serializers.BooleanField(required=False, allow_null=True, default=False)
    language = serializers.ChoiceField(
        choices=["en", "de"], required=False, allow_null=True, allow_blank=True
    )


class LinkTokenSerializer(serializers.Serializer):
    link_token = serializers.CharField()
    integration_name = serializers.CharField(
        required=False, help_text="Absent when no integration was chosen."
    )
    magic_link_url = serializers.URLField(
        required=False, help_text="Absent without should_create_magic_link_url."
    )


class AccountTokenSerializer(serializers.Serializer):
    account_token = serializers.CharField()
    integration = AccountIntegrationSerializer()
    id = serializers.UUIDField()


class PublicTokenRequestSerializer(serializers.Serializer):
    link_token = serializers.CharField(max_length=200)
    integration = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    credentials = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False))


class PublicTokenSerializer(serializers.Serializer):
    public_token = serializers.CharField()
