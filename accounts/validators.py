"""Login-ID rules and the per-utility password rule (used through AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

import re
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.models import Utility

LOGIN_ID_RE = re.compile(r"^[A-Za-z0-9]{6,16}$")
MIXED_SYMBOLS = "!?#$&()-_"


class PasswordRuleWords(NamedTuple):
    """How a password rule is told to residents: beside the label, or as a list under the field."""

    note: Promise | str = ""
    listed: Promise | str = ""


# The one wording of each rule, on every page where a password is chosen (signup, 会員情報,
# recovery); ``password_rule_problem`` checks exactly this. Seed 000 ⑥ puts its rule beside
# the label. Seed 003 lists its rule under the field: the screen's words (「● …数字のすべてを
# 含む」 without the symbol) and its step text's (①〜④ with the symbol, without the digit) each
# leave out one kind the check demands, so the list joins them.
PASSWORD_RULE_WORDS = {
    Utility.PasswordRule.LOWER_ALNUM: PasswordRuleWords(
        note=gettext_lazy("(半角小文字英数混在8〜16文字 ※記号以外)")
    ),
    Utility.PasswordRule.MIXED_SYMBOL: PasswordRuleWords(
        listed=gettext_lazy(
            "以下の条件を満たすパスワードを使用してください。\n"
            "● 半角英数字8文字以上\n"
            "● アルファベット大文字、小文字、数字、記号(例:!?#$&()-_)のすべてを含む\n"
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


def validate_plain_email(value: str) -> None:
    """Refuse an address whose part before the @ is quoted or escaped (``"taro"@example.jp``).

    Django's EmailValidator accepts such a local part, and it reaches the mailbox of its
    plain spelling: each spelling would get a per-recipient limit of its own and pass the
    "already registered" check. With this, an accepted local part is a plain dot-atom, so
    one mailbox has one normalised address.
    """
    local = value.rpartition("@")[0]
    if '"' in local or "\\" in local:
        raise ValidationError(
            _('メールアドレスの「@」より前に「"」や「\\」は使えません。'),
            code="quoted_local_part",
        )


def password_rule_problems(rule: str, password: str) -> list[str]:
    """Return what a password lacks under a utility's rule, in Japanese, or nothing."""
    if rule == Utility.PasswordRule.LOWER_ALNUM:
        if not re.fullmatch(r"[a-z0-9]{8,16}", password):
            return [
                _(
                    "パスワードは半角の小文字英字と数字で8〜16文字にしてください(記号・大文字は使えません)。"
                )
            ]
        if not (re.search(r"[a-z]", password) and re.search(r"[0-9]", password)):
            return [_("パスワードには英字と数字の両方を含めてください。")]
        return []
    if rule == Utility.PasswordRule.MIXED_SYMBOL:
        problems = []
        allowed = re.escape(MIXED_SYMBOLS)
        if not re.fullmatch(f"[A-Za-z0-9{allowed}]+", password):
            problems.append(_("使用できる記号は !?#$&()-_ のみです。全角文字や空白は使えません。"))
        if len(password) < 8:
            problems.append(_("パスワードは半角8文字以上にしてください。"))
        for pattern, label in (
            (r"[A-Z]", _("アルファベット大文字")),
            (r"[a-z]", _("アルファベット小文字")),
            (r"[0-9]", _("数字")),
            (f"[{allowed}]", _("記号(!?#$&()-_)")),
        ):
            if not re.search(pattern, password):
                problems.append(_("パスワードに%(kind)sを含めてください。") % {"kind": label})
        return problems
    if not 8 <= len(password) <= 64:
        return [_("パスワードは8〜64文字にしてください。")]
    return []


class UtilityPasswordRuleValidator:
    """Apply the password rule of the member's utility (staff: the standard rule)."""

    def validate(self, password: str, user=None) -> None:
        utility = getattr(user, "utility", None)
        rule = utility.password_rule if utility else Utility.PasswordRule.STANDARD
        problems = password_rule_problems(rule, password)
        if problems:
            raise ValidationError(problems, code="password_rule")

    def get_help_text(self) -> str:
        return _("事業者ごとのパスワードの条件を満たしてください。")
