"""Run the sandbox HRIS provider (what `make run` starts beside the web server and worker)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from syncs.sandbox_provider import SandboxState, make_server


class Command(BaseCommand):
    help = "Serve the sandbox HRIS provider on SANDBOX_PROVIDER_URL's host and port."

    def add_arguments(self, parser):
        parser.add_argument("--latency-ms", type=int, default=0, help="Added to every data request")

    def handle(self, *args, latency_ms: int, **options):
        parts = urlsplit(settings.SANDBOX_PROVIDER_URL)
        host, port = parts.hostname or "127.0.0.1", parts.port or 8765
        state = SandboxState(
            control_token=settings.SANDBOX_CONTROL_TOKEN,
            latency_ms=latency_ms,
            access_token_seconds=settings.SANDBOX_OAUTH_ACCESS_TOKEN_SECONDS,
        )
        server = make_server(host, port, state)
        self.stdout.write(f"Sandbox provider on http://{host}:{port} (latency {latency_ms} ms)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            state.stopping.set()
            server.server_close()
