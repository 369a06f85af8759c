from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = "Issues and webhooks"

    def ready(self) -> None:
        from accounts import outbox

        from .webhooks.outbox import status_change_listener

        # Status changes start in `accounts`, which imports no other app: it hands each
        # committed status-history row to us (the beat sweep catches any we miss).
        outbox.register_status_change_listener(status_change_listener)
