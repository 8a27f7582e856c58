from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "会員"

    def ready(self) -> None:
        from . import audit

        audit.connect_axes()
