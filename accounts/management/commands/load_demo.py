"""Create the demo contracts, readings, residents and staff (idempotent)."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.demo import create_demo_customers, create_demo_notices
from portal import normalize
from portal.models import Utility

from ...models import ContractLink, Member, MemberEvent
from ...services.matching import match_contract, match_summary
from ...services.staff import ensure_staff_group

# Everything here is fictitious. README lists these accounts; keep the two in step.
# A name of None is the first contract's holder, as a Kanazawa signup must type it to be
# approved; shinsei01 typed another name, so staff see a × to weigh. Nayoro's are nicknames.
RESIDENTS = [
    # utility, login_id, email, password, name, contract indexes, status
    ("kanazawa", "suidotaro", "taro@example.jp", "kanazawa2026", None, [1], "active"),
    ("kanazawa", "yamadahanako", "hanako@example.jp", "mizu2026ab", None, [2, 3], "active"),
    ("kanazawa", "shinsei01", "shinsei@example.jp", "kakunin2026", "佐藤 一郎", [], "pending"),
    ("nayoro", "", "taro@example.jp", "Nayoro#2026", "水道太郎", [1], "active"),
    ("nayoro", "", "hanako@example.jp", "Mizu&2026ab", "はなこ", [2, 3], "active"),
]
STAFF = [
    ("kanazawa-staff", "staff@kanazawa.example.jp", "Kanazawa-Staff-2026", "kanazawa"),
    ("nayoro-staff", "staff@nayoro.example.jp", "Nayoro-Staff-2026", "nayoro"),
]


class Command(BaseCommand):
    help = "デモ用の契約・検針データ・会員・職員を作成します(何度実行しても同じ結果です)。"

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        utilities = {u.slug: u for u in Utility.objects.filter(slug__in=["kanazawa", "nayoro"])}
        if len(utilities) != 2:
            raise CommandError(
                "kanazawa と nayoro がありません。先に `manage.py loaddata utilities` を実行してください。"
            )
        customers = {
            "kanazawa": create_demo_customers(utilities["kanazawa"], count=24, months_per_period=2),
            "nayoro": create_demo_customers(utilities["nayoro"], count=24, months_per_period=1),
        }
        for slug, login_id, email, password, name, indexes, status in RESIDENTS:
            utility = utilities[slug]
            member = Member.objects.filter(utility=utility, email=email, is_staff=False).first()
            if member is None:
                contract = customers[slug][indexes[0] - 1] if indexes else customers[slug][-1]
                name = contract.name if name is None else name
                # What that utility's signup asks, as the resident typed it (no more): a
                # Kanazawa member has no kana, a Nayoro member no address.
                member = Member(
                    utility=utility,
                    login_id=login_id,
                    email=email,
                    name=name,
                    status=status,
                    phone=contract.phone,
                    name_kana=contract.name_kana if utility.asks_kana else "",
                    address=contract.address if utility.asks_address else "",
                    building=contract.building if utility.asks_address else "",
                    signup_customer_number=contract.number,
                )
                if utility.asks_secret_question:
                    member.secret_question = "food"
                    member.secret_answer_hash = make_password(normalize.secret_answer("バナナ"))
                    member.tax_declaration = Member.TaxDeclaration.YES
                    member.referral = "slip"
                if utility.asks_relation:
                    member.relation = Member.Relation.SELF
                if utility.asks_payment_method:
                    member.payment_method = Member.PaymentMethod.KEEP
                member.set_password(password)
                if status == Member.Status.PENDING:
                    # As 本会員申請 stores it: the contract found and what matched (staff
                    # read this evidence beside 「承認」 in the admin).
                    member.signup_match = match_contract(
                        utility,
                        number=contract.number,
                        name=name,
                        phone=contract.phone,
                        address=contract.address,
                        name_kana=contract.name_kana,
                    )
                member.save()
                if status == Member.Status.PENDING:
                    MemberEvent.objects.create(
                        member=member, action="signup", detail=match_summary(member.signup_match)
                    )
            for index in indexes:
                ContractLink.objects.get_or_create(
                    member=member, customer=customers[slug][index - 1]
                )
        for utility in utilities.values():
            create_demo_notices(utility)
        group = ensure_staff_group()
        for login_id, email, password, slug in STAFF:
            if not Member.objects.filter(is_staff=True, login_id__iexact=login_id).exists():
                staff = Member.objects.create_user(
                    login_id,
                    email,
                    password,
                    utility=utilities[slug],
                    is_staff=True,
                    status=Member.Status.ACTIVE,
                    name=f"{utilities[slug].short_name} 職員",
                )
                staff.groups.add(group)
        self.stdout.write(
            f"デモデータ: 契約 {sum(len(c) for c in customers.values())} 件、"
            f"会員 {len(RESIDENTS)} 名、職員 {len(STAFF)} 名"
        )
