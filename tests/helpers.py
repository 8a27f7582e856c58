"""Small helpers shared by tests."""

from __future__ import annotations

import datetime
import re
import smtplib
from http import HTTPStatus
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import time_machine
import zxingcpp
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from PIL import Image

from tests.factories import CustomerFactory

_MODULE = re.compile(r"M(\d+),(\d+)H")
_VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')


def decode_inline_qr(html: str) -> str:
    """Rasterise the first inline QR <svg> of a page the way a phone camera sees it, and decode it."""
    svg = html[html.index('<svg role="img"') :]
    svg = svg[: svg.index("</svg>")]
    size = int(_VIEWBOX.search(svg).group(1))
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    for x, y in _MODULE.findall(svg):
        x, y = int(x) * scale, int(y) * scale
        image.paste(0, (x, y, x + scale, y + scale))
    results = zxingcpp.read_barcodes(image)
    assert results, "no QR code found in the SVG"
    return results[0].text


# Signup journeys shared by many test modules --------------------------------------------

JST = ZoneInfo("Asia/Tokyo")
START = datetime.datetime(2025, 4, 1, 9, 0, tzinfo=JST)
EMAIL = "taro@example.jp"  # the link-style (Kanazawa) applicant
CODE_EMAIL = "suido@example.jp"  # the code-style (Nayoro) applicant
SIGNUP_LINK_RE = re.compile(r"https?://\S+/signup/link/\S+/")
CODE_RE = re.compile(r"検証コード: (\d{6})")


def url(name: str, utility, *args) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug, *args])


def refuse_mail(monkeypatch) -> None:
    """Make every mail fail as a server that hangs up would (the outbox tries again later)."""

    def refuse(self, messages):
        raise smtplib.SMTPServerDisconnected("mail server is down")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)


REFUSED_FOR_GOOD = "550 5.1.1 <nobody@example.jp>: Recipient address rejected"


def refuse_mail_for_good(monkeypatch) -> None:
    """Make the server refuse every recipient with a permanent 5xx (the outbox gives up)."""

    def refuse(self, messages):
        to = messages[0].to[0]
        reply = REFUSED_FOR_GOOD.removeprefix("550 ").encode()
        raise smtplib.SMTPRecipientsRefused({to: (550, reply)})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)


def send_waiting_mail(minutes: int = 5) -> None:
    """Let ``minutes`` pass and run the outbox's sweep, as celery beat would."""
    from django.utils import timezone

    from portal import outbox

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=False):
        outbox.sweep()


def last_signup_link(mailoutbox) -> str:
    """Return the path of the signup URL in the last mail."""
    match = SIGNUP_LINK_RE.search(mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return urlparse(match.group(0)).path


def ask_for_link(client, utility, email: str = EMAIL, **overrides):
    data = {"email": email, "email_confirm": email, "agree_terms": "on", **overrides}
    return client.post(url("signup", utility), data)


def kanazawa_contract(utility, **overrides):
    values = {
        "number": "10000000000001",
        "name": "水道 太郎",
        "phone": "0761234567",
        "address": "金沢市広坂1丁目1-1",
    }
    return CustomerFactory(utility=utility, **{**values, **overrides})


def details_for(customer, **overrides) -> dict:
    """The link style's ⑥, filled in as the guide's resident would for ``customer``."""
    data = {
        "customer_number": customer.number,
        "name": customer.name,
        "address": customer.address,
        "building": "",
        "phone": customer.phone,
        "login_id": "taro0401",
        "password": "mizu2025ab",
        "password_confirm": "mizu2025ab",
        "secret_question": "food",
        "secret_answer": "バナナ",
        "tax_declaration": "no",
        "referral": "slip",
    }
    return {**data, **overrides}


def reach_details(client, utility, mailoutbox, email: str = EMAIL) -> None:
    """Walk the link style's ③ to ⑤: ask for the link and open it."""
    ask_for_link(client, utility, email)
    client.get(last_signup_link(mailoutbox))


def sign_up(client, utility, mailoutbox, customer, email: str = EMAIL, **overrides):
    """Walk ③ to ⑦ and press 「本会員申請する」; return that response."""
    reach_details(client, utility, mailoutbox, email)
    response = client.post(url("signup_confirm", utility), details_for(customer, **overrides))
    assert response.status_code == HTTPStatus.OK, response.content.decode()
    return client.post(url("signup_complete", utility))


def last_code(mailoutbox) -> str:
    match = CODE_RE.search(mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match.group(1)


def ask_for_code(client, utility, email: str = CODE_EMAIL):
    return client.post(url("signup", utility), {"email": email})


def enter_code(client, utility, code: str):
    return client.post(url("signup_code", utility), {"code": code})


def reach_code_details(client, utility, mailoutbox, email: str = CODE_EMAIL) -> None:
    """Walk the code style's ② to ④: ask for the code and type it."""
    ask_for_code(client, utility, email)
    response = enter_code(client, utility, last_code(mailoutbox))
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()
