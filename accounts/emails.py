"""One send_* function per mail. Services decide whether to send; these only render and send."""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from portal.models import Utility

from .models import Member


def _send(utility: Utility, to: str, name: str, context: dict) -> None:
    context = {"utility": utility, **context}
    subject = render_to_string(f"emails/accounts/{name}_subject.txt", context)
    body = render_to_string(f"emails/accounts/{name}_body.txt", context)
    EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=f"{utility.portal_name} <{utility.sender_email}>",
        to=[to],
    ).send()


def send_signup_link(utility: Utility, email: str, signup_url: str, expires_at) -> None:
    _send(utility, email, "signup_link", {"signup_url": signup_url, "expires_at": expires_at})


def send_signup_existing(utility: Utility, email: str, login_url: str, recovery_url: str) -> None:
    _send(utility, email, "signup_existing", {"login_url": login_url, "recovery_url": recovery_url})


def send_signup_complete(member: Member) -> None:
    _send(member.utility, member.email, "signup_complete", {"member": member})


def send_member_approved(member: Member, login_url: str) -> None:
    _send(
        member.utility, member.email, "member_approved", {"member": member, "login_url": login_url}
    )


def send_member_rejected(member: Member) -> None:
    _send(member.utility, member.email, "member_rejected", {"member": member})


# Recovery and account settings (issue 5) ------------------------------------------------


def send_password_reset_link(member: Member, reset_url: str, expires_at) -> None:
    context = {"member": member, "reset_url": reset_url, "expires_at": expires_at}
    _send(member.utility, member.email, "password_reset_link", context)


def send_password_reset_code(member: Member, code: str, expires_at) -> None:
    context = {"member": member, "code": code, "expires_at": expires_at}
    _send(member.utility, member.email, "password_reset_code", context)


def send_recovery_locked(member: Member, locked_until) -> None:
    context = {"member": member, "locked_until": locked_until}
    _send(member.utility, member.email, "recovery_locked", context)


def send_password_changed(member: Member) -> None:
    _send(member.utility, member.email, "password_changed", {"member": member})


def send_email_change_link(member: Member, new_email: str, url: str, expires_at) -> None:
    context = {"member": member, "confirm_url": url, "expires_at": expires_at}
    _send(member.utility, new_email, "email_change_link", context)


def send_email_change_code(member: Member, new_email: str, code: str, expires_at) -> None:
    context = {"member": member, "code": code, "expires_at": expires_at}
    _send(member.utility, new_email, "email_change_code", context)


def send_email_change_taken(utility: Utility, new_email: str) -> None:
    _send(utility, new_email, "email_change_taken", {})


def send_email_changed(member: Member, old_email: str) -> None:
    _send(member.utility, old_email, "email_changed", {"member": member})


def send_contract_added(member: Member, customer_number: str) -> None:
    context = {"member": member, "customer_number": customer_number}
    _send(member.utility, member.email, "contract_added", context)


def send_contract_request_rejected(member: Member, customer_number: str) -> None:
    context = {"member": member, "customer_number": customer_number}
    _send(member.utility, member.email, "contract_request_rejected", context)


def send_withdrawn(member: Member) -> None:
    _send(member.utility, member.email, "withdrawn", {"member": member})


# Signup by email code (issue 4) ---------------------------------------------------------


def send_signup_code(utility: Utility, email: str, code: str, expires_at) -> None:
    _send(utility, email, "signup_code", {"code": code, "expires_at": expires_at})
