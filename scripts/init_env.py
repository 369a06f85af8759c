"""Write .env for local runs on first use: DEBUG on and random secrets, kept so that data
encrypted in one run can be read in the next. Never used in production (set real env vars)."""

import base64
import os
import secrets
import sys
from pathlib import Path

path = Path(__file__).resolve().parent.parent / ".env"
if path.exists():
    sys.exit(0)
fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
path.write_text(
    "# Written by `make run` for local use. Production sets real environment variables instead.\n"
    "DEBUG=1\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FERNET_KEYS={fernet_key}\n"
)
path.chmod(0o600)
print(f"Wrote {path} (local secrets)")
