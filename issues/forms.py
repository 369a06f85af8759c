"""Forms for the dashboard's webhook pages: validation only; the views call the services."""

from django import forms
from django.core.exceptions import ValidationError

from . import services
from .models import WebhookEvent


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, label="Endpoint URL")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None selected: every event.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_url(self):
        try:
            return services.webhook_url_validate(self.cleaned_data["url"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages)

    def clean_events(self):
        try:
            return services.webhook_events_validate(self.cleaned_data["events"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages)
