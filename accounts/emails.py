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
