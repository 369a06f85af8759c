"""Request body limits for the API. Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when a view
reads `request.body`; DRF's parsers read the stream and never do. So an API request that
declares a larger body is refused here, before anything reads it: 413 with a JSON body.

API answers carry tokens and end users' data: no cache (browser or proxy) may keep them.

Merge's SDKs parse every answer as JSON: a 404 or 405 that Django itself produces (an unknown route,
an id that is not a UUID and so matches no route, a method no view takes), which is an HTML page,
and in DEBUG the technical page, becomes JSON with a `detail` under /api/."""

from django.conf import settings
from django.http import JsonResponse

_JSON_DETAIL = {404: "Not found.", 405: "Method not allowed."}


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
            if response.status_code in _JSON_DETAIL and not response.get("Content-Type", "").startswith(
                "application/json"
            ):
                allow = response.get("Allow")
                response = JsonResponse(
                    {"detail": _JSON_DETAIL[response.status_code]}, status=response.status_code
                )
                if allow:
                    response["Allow"] = allow
            response.setdefault("Cache-Control", "no-store")
            return response
        return self.get_response(request)
