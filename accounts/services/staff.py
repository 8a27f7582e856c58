"""The group utility staff belong to: what they may see and do in the admin.

Every admin scopes rows to the staff member's own utility; these permissions only say
which lists they reach at all.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

STAFF_GROUP = "事業者職員"
STAFF_PERMISSIONS = [
    ("accounts", "member", ["view", "change"]),
    ("accounts", "contractlink", ["view", "add", "change", "delete"]),
    ("accounts", "contractrequest", ["view", "change"]),
    ("accounts", "memberevent", ["view"]),
    # 会員 → ログイン試行: see their residents' lockouts and lift them (「停止を解除する」).
    ("accounts", "loginlock", ["view", "delete"]),
    ("billing", "customer", ["view", "add", "change"]),
    ("billing", "meterreading", ["view", "add", "change"]),
    # 請求・収納: imported from the CIS (add and change are what its CSV upload needs); delete
    # withdraws a bill entered by mistake (issued PDFs are kept: IssuedDocument is separate).
    ("billing", "payment", ["view", "add", "change", "delete"]),
    # お知らせ: written, changed and withdrawn by the utility's own staff.
    ("billing", "notice", ["view", "add", "change", "delete"]),
    # Web明細: the contracts whose paper slip members stopped, and its CSV for the CIS.
    ("billing", "webslip", ["view"]),
    # 発行済みの書類: the invoices and certificates issued, each PDF as it was issued.
    ("billing", "issueddocument", ["view"]),
    # 見守りメール: which members registered a second address, consented or stopped (read only).
    ("billing", "watch", ["view"]),
    ("portal", "utility", ["view", "change"]),
    # 事業者 → 「文章の他の言語版」: the city's own FAQ, terms, … in English and やさしい日本語.
    ("portal", "utilitytext", ["view", "add", "change", "delete"]),
    # 送信メール: which mails wait, went out or failed, with the mail server's reply.
    ("portal", "outboxmail", ["view"]),
    # 引越し: the 使用開始・使用中止 queue (処理中 / 完了 / 要連絡), its CSV, and the settings.
    ("moving", "moveapplication", ["view", "change"]),
    ("moving", "movingsettings", ["view", "change"]),
    ("moving", "movingtext", ["view", "add", "change", "delete"]),
]


def ensure_staff_group() -> Group:
    """Create the staff group, or give an existing one any permission it lacks."""
    group, _created = Group.objects.get_or_create(name=STAFF_GROUP)
    for app, model, actions in STAFF_PERMISSIONS:
        for action in actions:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app, codename=f"{action}_{model}")
            )
    return group
