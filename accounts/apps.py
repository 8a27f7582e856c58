from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "会員"

    def ready(self) -> None:
        # backends connects its login receiver; mail_failures the outbox's failure receiver.
        from . import audit, backends, mail_failures  # noqa: F401

        audit.connect_axes()
