"""Request body limits for the API. Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when a view
reads `request.body`; DRF's parsers read the stream and never do. So an API request that
declares a larger body is refused here, before anything reads it: 413 with a JSON body.

API answers carry tokens and end users' data: no cache (browser or proxy) may keep them."""

from django.conf import settings
from django.http import JsonResponse


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            raw = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw)
            except ValueError:
                return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
            if length < 0:
                return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
            if limit is not None and length > limit:
                return JsonResponse(
                    {
                        "detail": f"Request body too large: {length} bytes; the limit is {limit} bytes.",
                        "limit_bytes": limit,
                    },
                    status=413,
                )
            response = self.get_response(request)
            response.setdefault("Cache-Control", "no-store")
            return response
        return self.get_response(request)
