"""A member's history as staff read it: one Japanese sentence per event, never raw JSON."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .models import SECRET_QUESTIONS, Member, MemberEvent

_NAMES = {
    "new": "新しいメールアドレス",
    "old": "元のメールアドレス",
    "by": "方法",
    "question": "質問",
    "from": "変更前",
    "to": "変更後",
    "reason": "理由",
    "mail": "メール",
    "reply": "メールサーバーの応答",
    "fields": "変更した項目",
    "consents": "同意",
    "number": "番号",
    "name": "氏名",
    "name_kana": "カナ",
    "phone": "電話",
    "address": "住所",
    # 会員情報 → メールの受け取り (the labels of its form and page)
    "wants_bill_mail": "ご使用量・料金のお知らせ",
    "wants_alert_mail": "使用量の異常のお知らせ",
    "wants_notice_mail": "重要なお知らせ",
}
_MAILS = {
    "signup_complete": "会員登録完了",
    "member_approved": "ご使用量等の確認についてのご案内",
    "member_rejected": "否認のお知らせ",
    "password_changed": "パスワード変更のお知らせ",
    "password_reset_link": "パスワード再設定のURL",
    "password_reset_code": "パスワード再設定の認証コード",
    "email_changed": "メールアドレス変更のお知らせ",
    "contract_added": "契約追加のお知らせ",
    "contract_request_rejected": "契約追加の否認のお知らせ",
    "recovery_locked": "再設定停止のお知らせ",
    "withdrawn": "退会のお知らせ",
    "email_change_link": "メールアドレス変更の確認URL",
    "email_change_code": "メールアドレス変更の認証コード",
}
_WORDS = {
    "link": "URL",
    "code": "認証コード",
    "yes": "有",
    "no": "無",
    "agree_terms": "利用規約",
    "agree_privacy": "個人情報の取り扱い",
    **_MAILS,
    **dict((key, str(text)) for key, text in SECRET_QUESTIONS),
}
_MATCH_KEYS = {"number", "name", "name_kana", "phone", "address"}
_MAIL_CHOICE_KEYS = {"wants_bill_mail", "wants_alert_mail", "wants_notice_mail"}


def _field_name(name: str) -> str:
    try:
        return str(Member._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a form-only field: show its name as it is
        return name


def _value(key: str, value) -> str:
    if key in _MATCH_KEYS and isinstance(value, bool):
        return "一致" if value else "不一致"
    if key in _MAIL_CHOICE_KEYS and isinstance(value, bool):
        return "受け取る" if value else "受け取らない"
    if key == "fields":
        return "・".join(_field_name(name) for name in value)
    if isinstance(value, list):
        return "・".join(_WORDS.get(str(v), str(v)) for v in value)
    return _WORDS.get(str(value), str(value)) if value not in ("", None) else "—"


def describe(event: MemberEvent, number_word: str = "お客様番号") -> str:
    """「承認(ポータル登録番号: 10000000000001)」: the event's name and its details, in Japanese,
    the customer number under the member's utility's word for it."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    names = {**_NAMES, "customer_number": number_word}
    parts = [f"{names.get(key, key)}: {_value(key, value)}" for key, value in detail.items()]
    return f"{event.label}({_('、').join(parts)})" if parts else event.label
