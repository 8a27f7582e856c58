from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "会員"

    def ready(self) -> None:
        from . import audit, backends  # noqa: F401 - backends connects its login receiver

        audit.connect_axes()
