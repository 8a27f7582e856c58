from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "料金・使用量"

    def ready(self) -> None:
        from . import billmail, notices, pagecache  # noqa: F401 - billmail registers its recheck

        pagecache.connect_signals()
        notices.connect_signals()
