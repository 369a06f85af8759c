from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organizations and linked accounts"

    def ready(self) -> None:
        from . import pg_timestamps

        pg_timestamps.connect()
