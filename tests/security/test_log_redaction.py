"""Finding 5: live tokens in log lines. The mask every handler applies (config/redaction.py).

Defends against: live link, magic-link, public and account tokens in log lines (whoever reads
the logs could link or read an account).

Test by test (what each defends against):
- test_tokens_are_masked: token-bearing paths and query strings logged in clear.
- test_lines_without_tokens_stay_as_they_are: a mask so broad that logs become useless.
- test_the_filter_masks_formatted_arguments: tokens passed as %s arguments slipping past the mask.
"""

import logging

import pytest

from config.redaction import RedactTokensFilter, redact


@pytest.mark.parametrize(
    "line, secret",
    [
        ('"GET /link/lt_Abc123DEF456ghi789jkl HTTP/1.1" 200', "lt_Abc123DEF456ghi789jkl"),
        ('"GET /link/Zz9_unprefixed-magic-token?mode=magic HTTP/1.1"', "Zz9_unprefixed-magic-token"),
        ("Forbidden (CSRF token missing.): /link/lt_x1y2z3w4v5u6/sandbox/submit", "lt_x1y2z3w4v5u6"),
        ('"GET /api/hris/v1/account-token/pt_QWErty123456 HTTP/1.1"', "pt_QWErty123456"),
        ('"GET /api/hris/v1/issues?status=ONGOING&account_token=T0k3nValue HTTP/1.1"', "T0k3nValue"),
        ("/link/oauth/callback?code=AuthC0de&state=St4te", "AuthC0de"),
        ("key rl_live_abcdefghijklmnop used", "rl_live_abcdefghijklmnop"),
    ],
)
def test_tokens_are_masked(line, secret):
    masked = redact(line)
    assert secret not in masked
    assert "[redacted]" in masked


def test_lines_without_tokens_stay_as_they_are():
    line = '"GET /api/hris/v1/employees?page_size=5 HTTP/1.1" 200 /link/oauth/callback'
    assert redact(line) == line
    assert (
        redact("POST /api/hris/v1/account-token/regenerate") == "POST /api/hris/v1/account-token/regenerate"
    )


def test_the_filter_masks_formatted_arguments():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Gone: %s", ("/link/lt_abcdefgh1234",), None
    )
    assert RedactTokensFilter().filter(record) is True
    assert record.getMessage() == "Gone: /link/[redacted]"
