"""Small helpers shared by tests."""

from __future__ import annotations

import re

import zxingcpp
from PIL import Image

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
