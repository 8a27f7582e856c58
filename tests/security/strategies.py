"""Hypothesis strategies for what bots and attackers post."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCRIPT = "<script>alert(1)</script>"

HOSTILE_SAMPLES = [
    "",
    "\x00",
    "a\x00b",
    "x" * 10_000,
    "１２３４５６７８９０１２３４",
    "😀" * 40,
    "e\u0301\u0301\u0301\u0301",
    "\u202eevil\u202c",
    "\u200f\u05e9\u05dc\u05d5\u05dd",
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "' OR '1'='1' --",
    "'; DROP TABLE accounts_member; --",
    "../../../../etc/passwd",
    "%00%ff",
    "{{ settings.SECRET_KEY }}",
    "\r\nBcc: victim@example.jp",
    "ー－‐−",
    " \u3000 ",
]

# Text without lone surrogates: a browser cannot send those as UTF-8 at all.
hostile_text = st.one_of(
    st.sampled_from(HOSTILE_SAMPLES),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=300),
)

hostile = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def form_data(fields: list[str]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({name: hostile_text for name in fields})


def assert_handled(response) -> None:
    """A page with a message: never a 500, and nothing hostile echoed unescaped."""
    assert response.status_code < 500, response.status_code
    if response.get("Content-Type", "").startswith("text/html"):
        assert SCRIPT.encode() not in response.content
        assert b"onerror=alert(1)>" not in response.content
