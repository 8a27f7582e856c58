"""Report member-contract links that cross utilities (issue 14); nothing is deleted.

Staff could once link a member to another utility's contract through the member page's
inline. The model refuses that now; links stored before are listed here for staff to
review in the admin (会員 → 契約の紐づけ) and remove by hand.
"""

import logging

from django.db import migrations
from django.db.models import F

logger = logging.getLogger("accounts")


def report_cross_utility_links(apps, schema_editor):
    ContractLink = apps.get_model("accounts", "ContractLink")
    crossing = ContractLink.objects.exclude(customer__utility_id=F("member__utility_id"))
    for link in crossing.values("pk", "member_id", "customer_id"):
        logger.warning(
            "contract link %(pk)s joins member %(member_id)s to contract %(customer_id)s "
            "of another utility: review it in the admin",
            link,
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_withdrawn_members_free_their_ids")]

    operations = [
        migrations.RunPython(report_cross_utility_links, migrations.RunPython.noop, elidable=True)
    ]
