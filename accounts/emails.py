"""One send_* function per mail. Services decide whether to send; these only render and queue.

Every mail goes through the outbox (``portal.outbox``): call these inside the transaction of
the change the mail is about, and it leaves after commit, never while the request waits.
``key`` names that change where it has an id of its own, so it is mailed once.
"""

from __future__ import annotations

from django.utils.translation import gettext

from portal.models import Utility
from portal.outbox import Cancel, enqueue_mail, recheck_at_send, rehearse_mail

from .models import EmailChallenge, Member


def _send(
    utility: Utility,
    to: str,
    name: str,
    context: dict,
    *,
    member: Member | None = None,
    key: str | None = None,
) -> None:
    enqueue_mail(
        utility,
        to,
        f"accounts/{name}",
        context,
        member=member,
        key=f"{name}:{key}" if key else None,
    )


def _by_challenge(challenge: EmailChallenge) -> str:
    return f"challenge-{challenge.pk}"


def _to_member(
    member: Member, name: str, *, to: str | None = None, key: str | None = None, **context
) -> None:
    """Mail ``member`` (at ``to`` if given, e.g. a new address); the template gets ``member``."""
    context = {"member": member, **context}
    _send(member.utility, to or member.email, name, context, member=member, key=key)


def send_signup_link(utility: Utility, email: str, signup_url: str, challenge) -> None:
    context = {"signup_url": signup_url, "expires_at": challenge.expires_at}
    _send(utility, email, "signup_link", context, key=_by_challenge(challenge))


def send_signup_existing(utility: Utility, email: str, login_url: str, recovery_url: str) -> None:
    _send(utility, email, "signup_existing", {"login_url": login_url, "recovery_url": recovery_url})


def send_signup_complete(member: Member) -> None:
    _to_member(member, "signup_complete", key=f"member-{member.pk}")


def send_member_approved(member: Member, login_url: str) -> None:
    _to_member(member, "member_approved", login_url=login_url, key=f"member-{member.pk}")


def send_member_rejected(member: Member) -> None:
    _to_member(member, "member_rejected", key=f"member-{member.pk}")


# Recovery and account settings (issue 5) ------------------------------------------------


def send_password_reset_link(member: Member, reset_url: str, challenge) -> None:
    _to_member(
        member,
        "password_reset_link",
        reset_url=reset_url,
        expires_at=challenge.expires_at,
        key=_by_challenge(challenge),
    )


def send_password_reset_code(member: Member, code: str, challenge) -> None:
    _to_member(
        member,
        "password_reset_code",
        code=code,
        expires_at=challenge.expires_at,
        key=_by_challenge(challenge),
    )


def rehearse_password_reset_code(utility: Utility, email: str, code: str, challenge) -> None:
    """For an address no member has: the work of ``send_password_reset_code``, nothing sent."""
    context = {"member": Member(utility=utility, email=email), "code": code}
    rehearse_mail(
        utility,
        email,
        "accounts/password_reset_code",
        {**context, "expires_at": challenge.expires_at},
    )


def send_recovery_locked(member: Member, locked_until) -> None:
    _to_member(member, "recovery_locked", locked_until=locked_until)


def send_password_changed(member: Member) -> None:
    _to_member(member, "password_changed")


def send_email_change_link(member: Member, new_email: str, url: str, challenge) -> None:
    _to_member(
        member,
        "email_change_link",
        to=new_email,
        confirm_url=url,
        expires_at=challenge.expires_at,
        key=_by_challenge(challenge),
    )


def send_email_change_code(member: Member, new_email: str, code: str, challenge) -> None:
    _to_member(
        member,
        "email_change_code",
        to=new_email,
        code=code,
        expires_at=challenge.expires_at,
        key=_by_challenge(challenge),
    )


def send_email_change_taken(utility: Utility, new_email: str) -> None:
    _send(utility, new_email, "email_change_taken", {})


def send_email_changed(member: Member, old_email: str) -> None:
    _to_member(member, "email_changed", to=old_email)


def send_contract_added(member: Member, customer_number: str) -> None:
    _to_member(member, "contract_added", customer_number=customer_number)


def send_contract_request_rejected(member: Member, customer_number: str, request_pk: int) -> None:
    _to_member(
        member,
        "contract_request_rejected",
        customer_number=customer_number,
        key=f"request-{request_pk}",
    )


def send_withdrawn(member: Member) -> None:
    _to_member(member, "withdrawn", key=f"member-{member.pk}")


# Signup by email code (issue 4) ---------------------------------------------------------


def send_signup_code(utility: Utility, email: str, code: str, challenge) -> None:
    context = {"code": code, "expires_at": challenge.expires_at}
    _send(utility, email, "signup_code", context, key=_by_challenge(challenge))


@recheck_at_send(
    *(
        f"accounts/{name}"
        for name in (
            "signup_complete",
            "member_approved",
            "recovery_locked",
            "password_changed",
            "contract_added",
            "contract_request_rejected",
        )
    )
)
def current_addresses(mails) -> dict:
    """For account mails to the member's own address waiting in the outbox
    (portal.outbox.recheck_at_send): the address the member has now, none once withdrawn.
    Mails to a typed address (codes, links, 「変更されました」 to the old one) and the
    withdrawal and refusal mails themselves are not checked; nor is a mail written without a
    member."""
    members = {
        member.pk: member
        for member in Member.objects.filter(pk__in={m.member_id for m in mails if m.member_id})
    }
    answers = {}
    for mail in mails:
        member = members.get(mail.member_id)
        if mail.member_id is None:
            answers[mail.pk] = mail.recipient  # about no member: nothing to check it against
        elif member is None or member.status == Member.Status.WITHDRAWN:
            answers[mail.pk] = Cancel(
                gettext("会員が退会した(利用中でない)ため送信を取りやめました。")
            )
        elif not member.email:
            answers[mail.pk] = Cancel(
                gettext("会員のメールアドレスがないため送信を取りやめました。")
            )
        else:
            answers[mail.pk] = member.email
    return answers
