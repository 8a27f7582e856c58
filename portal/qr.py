"""QR codes as inline SVG: nothing is written to disk."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from django.http import HttpRequest
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _


def qr_svg(data: str, *, title: str) -> SafeString:
    """Return an accessible inline <svg> QR code of ``data``."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    qr.add_data(data)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    # Drop the XML declaration and give the picture a role and a name for screen readers.
    svg = svg[svg.index("<svg") :]
    label = escape(title)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="qr" ', 1)
    return mark_safe(svg)  # noqa: S308 - built from the qrcode library's own markup


def login_qr_context(request: HttpRequest) -> dict:
    """Return the absolute login URL of the request's utility and its QR code."""
    url = request.build_absolute_uri(request.utility.get_absolute_url())
    title = _("ログイン画面のQRコード: %(url)s") % {"url": url}
    return {"login_url": url, "login_qr": qr_svg(url, title=title)}
