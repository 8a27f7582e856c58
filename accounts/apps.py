from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "会員"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from billing import pagecache

        # backends connects its login receiver; mail_failures the outbox's failure receiver;
        # emails registers the check of a held mail against its member (outbox.recheck_at_send).
        from . import audit, backends, emails, mail_failures  # noqa: F401
        from .models import ContractLink

        audit.connect_axes()
        backends.connect_member_cache()
        # A link given or taken away changes which usage pages a member may see: the cached
        # ones are dropped at once (billing/pagecache.py; billing never imports accounts).
        for signal in (post_save, post_delete):
            signal.connect(
                pagecache.model_changed, sender=ContractLink, dispatch_uid="pagecache.ContractLink"
            )
