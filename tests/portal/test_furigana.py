"""やさしい日本語's readings: written once in Aozora notation, shown as <ruby> in a page's text
and as 「漢字(かんじ)」 wherever markup cannot go (portal.furigana, FuriganaMiddleware)."""

from __future__ import annotations

import datetime

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import translation

from billing.templatetags.billing_format import jdate_text, jmonth, month_day_text, yen_text
from portal.furigana import to_html, to_text
from portal.middleware import FuriganaMiddleware

RUBY = "<ruby>料金<rp>(</rp><rt>りょうきん</rt><rp>)</rp></ruby>"


def test_text_gets_ruby_and_okurigana_stay_outside():
    assert to_html("<p>｜払《はら》います</p>") == (
        "<p><ruby>払<rp>(</rp><rt>はら</rt><rp>)</rp></ruby>います</p>"
    )
    assert to_html("<p>水道｜料金《りょうきん》</p>") == f"<p>水道{RUBY}</p>"


def test_a_kanji_run_needs_no_bar():
    assert to_html("<p>水道料金《すいどうりょうきん》です</p>") == (
        "<p><ruby>水道料金<rp>(</rp><rt>すいどうりょうきん</rt><rp>)</rp></ruby>です</p>"
    )


@pytest.mark.parametrize(
    "html",
    [
        "<title>｜料金《りょうきん》 | ポータル</title>",
        '<input aria-label="｜料金《りょうきん》" value="｜料金《りょうきん》">',
        "<select><option>｜料金《りょうきん》</option></select>",
        "<textarea>｜料金《りょうきん》</textarea>",
        '<svg><desc>｜料金《りょうきん》</desc><g><text x="1">｜料金《りょうきん》</text></g></svg>',
    ],
)
def test_where_markup_cannot_go_the_reading_is_in_brackets(html):
    out = to_html(html)
    assert "料金(りょうきん)" in out
    assert "<ruby>" not in out and "《" not in out


def test_after_a_plain_element_text_gets_ruby_again():
    out = to_html("<title>｜料金《りょうきん》</title><h1>｜料金《りょうきん》</h1>")
    assert out == f"<title>料金(りょうきん)</title><h1>{RUBY}</h1>"


def test_mails_and_subjects_read_brackets():
    assert to_text("お｜金《かね》を｜払《はら》います") == "お金(かね)を払(はら)います"
    assert to_text("読みのない文") == "読みのない文"


def page(language: str, body: str, content_type: str = "text/html; charset=utf-8"):
    middleware = FuriganaMiddleware(lambda request: HttpResponse(body, content_type=content_type))
    with translation.override(language):
        return middleware(RequestFactory().get("/")).content.decode()


def test_the_middleware_acts_only_for_easy_japanese_html():
    body = "<p>｜料金《りょうきん》</p>"
    assert page("ja-easy", body) == f"<p>{RUBY}</p>"
    assert page("ja", body) == body
    assert page("ja-easy", body, "text/csv; charset=utf-8") == body


@pytest.mark.parametrize(
    ("language", "day", "month_day", "month", "yen"),
    [
        ("ja", "2026年11月25日", "11月25日", "2026年11月", "1,234円"),
        ("ja-easy", "2026年11月25日", "11月25日", "2026年11月", "1,234円"),
        ("en", "25 Nov 2026", "25 Nov", "Nov 2026", "\u00a51,234"),
    ],
)
def test_dates_and_yen_in_each_language(language, day, month_day, month, yen):
    date = datetime.date(2026, 11, 25)
    with translation.override(language):
        assert jdate_text(date) == day
        assert month_day_text(date) == month_day
        assert jmonth(date) == month
        assert yen_text(1234) == yen


def test_both_notations_on_one_page_each_in_its_place():
    html = "<title>水道料金《すいどうりょうきん》</title><p>｜払《はら》う 料金《りょうきん》</p>"
    assert to_html(html) == (
        "<title>水道料金(すいどうりょうきん)</title><p><ruby>払<rp>(</rp><rt>はら</rt>"
        f"<rp>)</rp></ruby>う {RUBY}</p>"
    )
