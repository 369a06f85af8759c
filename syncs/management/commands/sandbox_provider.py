"""Run the sandbox HRIS provider (what `make run` starts beside the web server and worker)."""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from syncs.sandbox_provider import SandboxState, make_server


class Command(BaseCommand):
    help = "Serve the sandbox HRIS provider on SANDBOX_PROVIDER_URL's host and port."

    def add_arguments(self, parser):
        parser.add_argument("--latency-ms", type=int, default=0, help="Added to every data request")
        parser.add_argument(
            "--any-port-if-busy",
            action="store_true",
            help="When the port is taken, listen on a free one the system picks (port 0).",
        )
        parser.add_argument(
            "--url-file",
            help="Once listening, write the URL actually bound to this file (make run hands it to "
            "the web server and worker).",
        )

    def handle(self, *args, latency_ms: int, any_port_if_busy: bool, url_file: str | None, **options):
        parts = urlsplit(settings.SANDBOX_PROVIDER_URL)
        host, port = parts.hostname or "127.0.0.1", parts.port or 8765
        state = SandboxState(
            control_token=settings.SANDBOX_CONTROL_TOKEN,
            latency_ms=latency_ms,
            access_token_seconds=settings.SANDBOX_OAUTH_ACCESS_TOKEN_SECONDS,
        )
        # Bind first, then tell the others where: checking a port and binding it later loses
        # the port to any process that takes it in between.
        try:
            server = make_server(host, port, state)
        except OSError:
            if not any_port_if_busy:
                raise
            server = make_server(host, 0, state)
        host, port = server.server_address[:2]
        url = f"http://{host}:{port}"
        if url_file:
            tmp = Path(f"{url_file}.{os.getpid()}")
            tmp.write_text(url)
            tmp.replace(url_file)  # atomic: a reader sees no file or the whole URL
        self.stdout.write(f"Sandbox provider on {url} (latency {latency_ms} ms)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            state.stopping.set()
            server.server_close()
