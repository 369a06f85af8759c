from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"
    verbose_name = "Syncs and integrations"

    def ready(self) -> None:
        from .integrations import register_all

        register_all()
