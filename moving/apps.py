from django.apps import AppConfig


class MovingConfig(AppConfig):
    name = "moving"
    verbose_name = "引越し(使用開始・使用中止)"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from billing.signals import customers_imported
        from portal.models import Utility

        from .models import utility_saved
        from .services import contracts_imported

        post_save.connect(utility_saved, sender=Utility, dispatch_uid="moving.utility_saved")
        customers_imported.connect(contracts_imported, dispatch_uid="moving.contracts_imported")
