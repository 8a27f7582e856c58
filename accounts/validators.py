"""Login-ID rules and the per-utility password rule (used through AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal import words
from portal.models import Utility
from portal.validators import validate_plain_email  # noqa: F401 - accounts' callers use it

if TYPE_CHECKING:
    from .models import Member

LOGIN_ID_RE = re.compile(r"^[A-Za-z0-9]{6,16}$")
# Staff IDs are made by the platform's operators (``kanazawa-staff``, ``admin``), not at signup.
STAFF_LOGIN_ID_RE = re.compile(r"^[a-z0-9._-]{3,64}$")
MIXED_SYMBOLS = "!?#$&()-_"


class PasswordRuleWords(NamedTuple):
    """How a password rule is told to residents: beside the label, or as a list under the field."""

    note: Promise | str = ""
    listed: Promise | str = ""


# The one wording of each rule, on every page where a password is chosen (signup, 会員情報,
# recovery); ``password_rule_problem`` checks exactly this. Seed 000 ⑥ puts its rule beside
# the label. Seed 003 ⑤ lists its rule: the sentence 「パスワードは必ず以下の4種類を含めた
# ものとしてください。」, ①〜④ and the ※ note, as issue 15 asks. Its check demands those four
# kinds and no digit: the list never names one, and a password that meets every listed
# condition must not be refused.
PASSWORD_RULE_WORDS = {
    Utility.PasswordRule.LOWER_ALNUM: PasswordRuleWords(
        note=gettext_lazy("(半角小文字英数混在8〜16文字 ※記号以外)")
    ),
    Utility.PasswordRule.MIXED_SYMBOL: PasswordRuleWords(
        listed=gettext_lazy(
            "パスワードは必ず以下の4種類を含めたものとしてください。\n"
            "①半角英数字8文字以上\n"
            "②アルファベット大文字\n"
            "③アルファベット小文字\n"
            "④記号(例:!?#$&()-_)\n"
            "※使用可能な記号は例示のものに限ります"
        )
    ),
    Utility.PasswordRule.STANDARD: PasswordRuleWords(note=gettext_lazy("(8〜64文字)")),
}


def validate_login_id(value: str) -> None:
    if not LOGIN_ID_RE.match(value):
        raise ValidationError(
            _("ログインIDは半角英数字6〜16文字で入力してください(記号は使えません)。"),
            code="login_id_format",
        )


def validate_staff_login_id(value: str) -> None:
    """Refuse a staff login ID (normalised: NFKC, lower case) that is not plain ASCII."""
    if not STAFF_LOGIN_ID_RE.match(value):
        raise ValidationError(
            _(
                "職員のログインIDは、半角英数字と「-」「_」「.」を使って3〜64文字で"
                "入力してください。"
            ),
            code="staff_login_id_format",
        )


def password_rule_problem(rule: str, password: str) -> str:
    """Return the one thing to fix for a password under a utility's rule, or ""."""
    if rule == Utility.PasswordRule.STANDARD:
        return "" if 8 <= len(password) <= 64 else _("パスワードは8〜64文字にしてください。")
    mixed = rule == Utility.PasswordRule.MIXED_SYMBOL
    return _wrong_characters(password, mixed) or (
        _mixed_symbol_lacks(password) if mixed else _lower_alnum_lacks(password)
    )


def _mixed_symbol_lacks(password: str) -> str:
    missing = [str(label) for pattern, label in _MIXED_KINDS if not re.search(pattern, password)]
    kinds = words.listed(missing)
    if len(password) < 8:
        if missing:
            return _("パスワードは8文字以上にし、%(kinds)sを含めてください。") % {"kinds": kinds}
        return _("パスワードは半角8文字以上にしてください。")
    return _("パスワードに%(kinds)sを含めてください。") % {"kinds": kinds} if missing else ""


def _lower_alnum_lacks(password: str) -> str:
    one_kind = not (re.search(r"[a-z]", password) and re.search(r"[0-9]", password))
    if not 8 <= len(password) <= 16:
        if one_kind:
            return _("パスワードは8〜16文字にし、英字と数字の両方を含めてください。")
        return _("パスワードは8〜16文字にしてください。")
    return _("パスワードには英字と数字の両方を含めてください。") if one_kind else ""


_MIXED_KINDS = (
    (r"[A-Z]", gettext_lazy("アルファベット大文字")),
    (r"[a-z]", gettext_lazy("アルファベット小文字")),
    (f"[{re.escape(MIXED_SYMBOLS)}]", gettext_lazy("記号(!?#$&()-_)")),
)


def _wrong_characters(password: str, mixed: bool) -> str:
    """Say what to type instead of characters a restricted rule never takes, or ""."""
    if not password.isascii():
        # A password typed in full width is refused as a whole, not as lacking every kind.
        if mixed:
            return _("全角文字は使えません。半角の英数字と記号(!?#$&()-_)で入力してください。")
        return _("全角文字は使えません。半角の小文字英字と数字で入力してください。")
    if re.search(r"\s", password):
        return _("パスワードに空白は使えません。")
    if not mixed:
        if re.fullmatch(r"[a-z0-9]*", password):
            return ""
        return _("パスワードは半角の小文字英字と数字で入力してください(記号・大文字は使えません)。")
    others = dict.fromkeys(c for c in password if not c.isalnum() and c not in MIXED_SYMBOLS)
    if not others:
        return ""
    return _("使用できる記号は !?#$&()-_ のみです(%(chars)sは使えません)。") % {
        "chars": "".join(f"「{c}」" for c in others)
    }


def validate_new_password(password: str, user: Member) -> None:
    """Refuse a password being chosen with the one message that says what to fix first.

    Django's validate_password() gives every validator's complaint at once: 「abc」 got its
    length message, 「一般的すぎます」 and the utility's rule together. The rule speaks first
    and alone (it covers the length, so MinimumLengthValidator never repeats it); the checks
    for common passwords, look-alikes of the login ID or address and all digits speak once
    the rule is met, the first of them only.
    """
    problem = password_rule_problem(_rule_of(user), password)
    if problem:
        raise ValidationError(problem, code="password_rule")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise exc.error_list[0] from None


def _rule_of(user: Member | None) -> str:
    utility = getattr(user, "utility", None)
    return utility.password_rule if utility else Utility.PasswordRule.STANDARD


class UtilityPasswordRuleValidator:
    """Apply the password rule of the member's utility (staff: the standard rule)."""

    def validate(self, password: str, user: Member | None = None) -> None:
        problem = password_rule_problem(_rule_of(user), password)
        if problem:
            raise ValidationError(problem, code="password_rule")

    def get_help_text(self) -> str:
        return _("事業者ごとのパスワードの条件を満たしてください。")
