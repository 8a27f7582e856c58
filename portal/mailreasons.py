"""Why a mail did not go, in plain Japanese, from the server's reply an outbox row keeps.

The member reads it (the first page after login, 会員情報's 「お届けできなかったメール」) and
staff read it first in 送信メール, the raw reply beside it. Matched on the reply's enhanced
status code (RFC 3463) first, then its basic code; a mail that failed without a reply (the
relay unreachable, our sender refused at MAIL FROM) is ours, never the resident's.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

ADDRESS, FULL, REFUSED, TEMPORARY, OURS = "address", "full", "refused", "temporary", "ours"


def kind(reply: str) -> str:
    """What the reply says about the mail: ``ADDRESS``, ``FULL``, ``REFUSED``, ``TEMPORARY``
    or ``OURS``."""
    parts = reply.split()
    code = parts[0] if parts and parts[0].isdigit() and len(parts[0]) == 3 else ""
    enhanced = parts[1] if code and len(parts) > 1 and parts[1][:2] in ("4.", "5.") else ""
    if not code:
        return OURS  # no reply, or our sender refused (``portal.outbox.smtp_reply``)
    if code.startswith("4"):
        return TEMPORARY
    if enhanced.startswith("5.1.") or code in ("550", "551", "553"):
        return FULL if enhanced == "5.2.2" else REFUSED if enhanced.startswith("5.7.") else ADDRESS
    if enhanced == "5.2.2" or code == "552":
        return FULL
    return REFUSED


def reason(reply: str) -> str:
    """The plain-Japanese reason for ``reply`` (one sentence)."""
    return {
        ADDRESS: _(
            "受け取る側のメールサーバーから、このメールアドレスあてには届けられないと返事がありました。"
        ),
        FULL: _("受け取る側のメールボックスがいっぱいで、届けられませんでした。"),
        REFUSED: _("受け取る側のメールサーバーに受け取りを断られました。"),
        TEMPORARY: _(
            "受け取る側のメールサーバーが受け取れない状態が続き、何度お送りしても届けられませんでした。"
        ),
        OURS: _("当方の送信の不具合で、お届けできませんでした。"),
    }[kind(reply)]
