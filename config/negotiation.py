"""Content negotiation for the API: the answer is JSON (the one renderer, REST_FRAMEWORK's
DEFAULT_RENDERER_CLASSES), so the common requests (no Accept header, `*/*`, `application/json`)
skip DRF's parsing of the Accept header and its precedence ordering; anything else goes the
whole way (and an Accept it cannot serve is still a 406). DRF has no such shortcut."""

from rest_framework.negotiation import DefaultContentNegotiation

_PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json"})


class ApiContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            not format_suffix
            and request.META.get("HTTP_ACCEPT", "") in _PLAIN_ACCEPTS
            and renderers
            and renderers[0].media_type == "application/json"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
