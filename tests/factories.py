"""All factory-boy factories. Defaults are valid; a test overrides only what it is about."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from accounts.models import ContractLink, EmailChallenge, Member
from billing.models import Customer, MeterReading, Payment
from portal.models import Utility


class UtilityFactory(factory.django.DjangoModelFactory):
    """A utility open all day, with staff approval and login IDs (kanazawa-like rules)."""

    class Meta:
        model = Utility
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"city{n}")
    name = factory.Sequence(lambda n: f"見本市{n}水道局")
    portal_name = factory.Sequence(lambda n: f"見本市{n}上下水道ポータルサイト")
    short_name = factory.Sequence(lambda n: f"見本市{n}")
    contact_block = "見本市水道局お客さまサービス課\n電話 03-1234-5678 受付 平日 8:30〜17:15\n見本県見本市本町1-1"
    sender_email = "noreply@city.example.jp"
    terms_text = "第1条(適用)\n本規約は本サービスの利用に適用されます。"
    opens_at = datetime.time(0, 0)
    closes_at = datetime.time(0, 0)
    verification = Utility.Verification.LINK
    login_identifier = Utility.LoginIdentifier.LOGIN_ID
    activation = Utility.Activation.STAFF
    customer_number_label = "ポータル登録番号"
    customer_number_digits = 14
    billing_cycle_months = 2  # the readings below are two-monthly
    password_rule = Utility.PasswordRule.LOWER_ALNUM
    asks_address = True
    asks_secret_question = True
    asks_tax_declaration = True
    asks_referral = True
    invoice_registration_number = "T9234567890123"

    class Params:
        # The nayoro-like rules: a code by mail, email login, immediate activation.
        code_style = factory.Trait(
            verification=Utility.Verification.CODE,
            login_identifier=Utility.LoginIdentifier.EMAIL,
            activation=Utility.Activation.AUTO,
            offers_remember_id=False,
            customer_number_label="お客様番号",
            customer_number_digits=11,
            password_rule=Utility.PasswordRule.MIXED_SYMBOL,
            asks_address=False,
            asks_secret_question=False,
            asks_tax_declaration=False,
            asks_referral=False,
            asks_kana=True,
            asks_privacy_consent=True,
            asks_relation=True,
            asks_payment_method=True,
            name_is_nickname=True,
        )


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    utility = factory.SubFactory(UtilityFactory)
    number = factory.LazyAttributeSequence(
        lambda o, n: f"{n + 1:0{o.utility.customer_number_digits}d}"
    )
    name = "水道 太郎"
    name_kana = "スイドウ タロウ"
    address = "見本市本町1丁目1-1"
    building = ""
    phone = factory.Sequence(lambda n: f"03{n:08d}")
    meter_diameter_mm = 20
    meter_number = factory.Sequence(lambda n: f"{54321 + n}")


def _months_back(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months
    return day.replace(year=index // 12, month=index % 12 + 1)


class MeterReadingFactory(factory.django.DjangoModelFactory):
    """Two-month periods ending on the 25th, going back from 2025-05-25 by sequence."""

    class Meta:
        model = MeterReading

    customer = factory.SubFactory(CustomerFactory)
    period_end = factory.Sequence(lambda n: _months_back(datetime.date(2025, 5, 25), 2 * n))
    # The day after the previous period's end: a contract's periods never overlap.
    period_start = factory.LazyAttribute(
        lambda o: _months_back(o.period_end, 2) + datetime.timedelta(days=1)
    )
    read_on = factory.SelfAttribute("period_end")
    previous_index = 55
    current_index = 75
    usage_m3 = 20
    water_charge = 3000
    sewer_charge = 2000
    tax = 454
    total = 5000


class PaymentFactory(factory.django.DjangoModelFactory):
    """The bill of a reading's period, paid by 口座振替 on the 26th of the next month."""

    class Meta:
        model = Payment

    customer = factory.SubFactory(CustomerFactory)
    period_end = factory.Sequence(lambda n: _months_back(datetime.date(2025, 5, 25), 2 * n))
    period_start = factory.LazyAttribute(
        lambda o: _months_back(o.period_end, 2) + datetime.timedelta(days=1)
    )
    billed_amount = 5000
    due_date = factory.LazyAttribute(lambda o: _months_back(o.period_end, -1).replace(day=26))
    method = Payment.Method.TRANSFER
    paid_on = factory.SelfAttribute("due_date")
    paid_amount = factory.SelfAttribute("billed_amount")
    status = Payment.Status.PAID


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        skip_postgeneration_save = True

    utility = factory.SubFactory(UtilityFactory)
    login_id = factory.Sequence(lambda n: f"member{n:04d}")
    email = factory.Sequence(lambda n: f"member{n}@example.jp")
    name = "水道 太郎"
    phone = "0312345678"
    status = Member.Status.ACTIVE
    password = factory.django.Password("suido2026")


class StaffFactory(MemberFactory):
    login_id = factory.Sequence(lambda n: f"staff{n:04d}")
    is_staff = True


class ContractLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContractLink

    member = factory.SubFactory(MemberFactory)
    customer = factory.SubFactory(
        CustomerFactory, utility=factory.SelfAttribute("..member.utility")
    )
    approved_at = factory.LazyFunction(timezone.now)


class EmailChallengeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailChallenge

    utility = factory.SubFactory(UtilityFactory)
    purpose = EmailChallenge.Purpose.SIGNUP
    email = factory.Sequence(lambda n: f"challenge{n}@example.jp")
    secret_hash = "!"
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=24))
