"""Checks of typed values every app shares (accounts' forms, billing's 見守り, the admin)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_plain_email(value: str) -> None:
    """Refuse an address no resident has, which would reach a mailbox or a host by a back way.

    A part before the @ that is quoted or escaped (``"taro"@example.jp``): Django's
    EmailValidator accepts it, and it reaches the mailbox of its plain spelling, so each
    spelling would get a per-recipient limit of its own and pass the "already registered"
    check. With this, an accepted local part is a plain dot-atom, so one mailbox has one
    normalised address.

    A part after the @ that names no host by a domain name: an IP literal (``x@[10.0.0.5]``,
    ``x@[169.254.169.254]``), a single label (``x@localhost``, which Django allows) or an
    all-digit last label (``x@1.2.3.45``). The mail relay would connect to that internal
    host or the cloud's metadata address, and each literal was a limit bucket of its own.
    """
    local, at, domain = value.rpartition("@")
    if '"' in local or "\\" in local:
        raise ValidationError(
            _('メールアドレスの「@」より前に「"」や「\\」は使えません。'),
            code="quoted_local_part",
        )
    if at and _names_no_host_by_name(domain):
        raise ValidationError(
            _(
                "メールアドレスの「@」より後ろには、「example.jp」のようなドメイン名を"
                "入力してください(IPアドレスや「localhost」は使えません)。"
            ),
            code="not_a_domain_name",
        )


def _names_no_host_by_name(domain: str) -> bool:
    """An IP literal, a single label or an all-digit top label. (A domain that is no domain
    at all, such as an empty one, is left to EmailValidator's 「形式が正しくありません」.)"""
    return (
        domain.startswith("[")
        or (bool(domain) and "." not in domain)
        or domain.rpartition(".")[2].isdigit()
    )
