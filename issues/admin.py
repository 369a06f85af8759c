"""Django admin for issues and webhooks: read-mostly; every change goes through a service."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.admin_base import ServiceWrittenAdmin

from . import services
from .models import Issue, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookNotice
from .webhooks.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_key,
    webhook_endpoint_update,
    webhook_notice_acknowledge,
    webhook_url_validate,
)
from .webhooks.sweeps import webhook_delivery_redeliver


@admin.register(Issue)
class IssueAdmin(ServiceWrittenAdmin):
    list_display = (
        "error_description",
        "status",
        "linked_account",
        "organization",
        "occurrences",
        "last_incident_time",
        "is_muted",
    )
    list_select_related = ("linked_account", "organization")
    list_filter = ("status", "error_description", "is_muted", "account_type")
    search_fields = ("linked_account__end_user_origin_id", "linked_account__end_user_organization_name")
    actions = ["mute", "unmute"]

    @admin.action(description="Mute the selected issues")
    def mute(self, request, queryset):
        for issue in queryset:
            services.issue_mute(issue=issue, muted_by=str(request.user))
        messages.success(request, f"Muted {queryset.count()} issue(s).")

    @admin.action(description="Unmute the selected issues")
    def unmute(self, request, queryset):
        for issue in queryset:
            services.issue_unmute(issue=issue)
        messages.success(request, f"Unmuted {queryset.count()} issue(s).")


class WebhookEndpointForm(forms.ModelForm):
    url = forms.CharField(max_length=2000, help_text="http(s) URL of the receiver.")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None selected: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "description", "events", "enabled"]

    def clean_url(self):
        try:
            return webhook_url_validate(self.cleaned_data["url"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "organization", "enabled", "failing_since", "last_success_at", "created_at")
    list_select_related = ("organization",)
    list_filter = ("enabled",)
    readonly_fields = (
        "key_rotated_at",
        "failing_since",
        "last_success_at",
        "disabled_at",
        "disabled_reason",
        "created_at",
    )
    actions = ["rotate_keys"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            webhook_endpoint_update(
                endpoint=obj,
                url=data["url"],
                events=data["events"],
                enabled=data["enabled"],
                description=data["description"],
            )
            return
        endpoint, key = webhook_endpoint_create(
            organization=data["organization"],
            url=data["url"],
            events=data["events"],
            enabled=data["enabled"],
            description=data["description"],
        )
        obj.pk = endpoint.pk
        messages.warning(request, f"Signature key for {endpoint.url}: {key} (store it with the receiver).")

    @admin.action(description="Rotate the signature keys of the selected endpoints")
    def rotate_keys(self, request, queryset):
        for endpoint in queryset:
            key = webhook_endpoint_rotate_key(endpoint=endpoint)
            messages.warning(request, f"New signature key for {endpoint.url}: {key}")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "outcome", "status_code", "error", "response_body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ServiceWrittenAdmin):
    list_display = ("id", "event", "endpoint", "status", "attempt_count", "next_attempt_at", "created_at")
    list_select_related = ("endpoint",)
    list_filter = ("status", "event")
    # No body: a payload is the organization's data (end users' names and addresses), not an
    # operator's business; the dashboard shows it to the organization, minus any token.
    exclude = ("body",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields if f.name != "body"]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]
    editable = True

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        done = 0
        for delivery in queryset:
            try:
                webhook_delivery_redeliver(delivery=delivery)
                done += 1
            except ValidationError as exc:
                messages.error(request, f"{delivery.id}: {' '.join(exc.messages)}")
        messages.success(request, f"Queued {done} delivery(ies) again.")


@admin.register(WebhookNotice)
class WebhookNoticeAdmin(ServiceWrittenAdmin):
    list_display = ("created_at", "organization", "kind", "message", "acknowledged_at")
    list_filter = ("kind",)
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge the selected notices")
    def acknowledge(self, request, queryset):
        for notice in queryset:
            webhook_notice_acknowledge(notice=notice)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ServiceWrittenAdmin):
    """Every POST of every delivery (also shown inline on its delivery)."""

    list_display = ("delivery", "number", "started_at", "outcome", "status_code", "duration_ms")
    list_filter = ("outcome",)
    list_select_related = ("delivery",)
    raw_id_fields = ("delivery",)
