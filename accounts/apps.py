from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and linked accounts"

    def ready(self) -> None:
        from config import migration_history  # noqa: F401 (registers its system check)

        from . import pg_timestamps

        pg_timestamps.connect()
