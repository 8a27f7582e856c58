"""The header and footer of every page, rendered once per process for each set of inputs.

base.html's header and footer were the largest costs of a signed-in page after the request's
own work (issue 17's profile: about 0.45 ms and 0.18 ms of CPU a page: a dozen ``{% url %}``
reversals, the translations, and the contact block's phone-number links). They differ by
utility, by language and by whether the visitor is signed in to that utility, never by member.

So each part is rendered from a context holding *only* its key, and the result is kept in the
process, keyed by every value it was rendered from:

- the utility's fields the part shows (slug, portal name, contact block), not its id: a change
  of the name or contact block is a new key, so it shows on the next page, on every server,
  with nothing to invalidate and nothing shared;
- the language, the script prefix (URLs), signed in to this utility or not, and the current
  page's view name (nav state), and the languages the utility offers (the switch);
- nothing per member or per request: the logout form's CSRF token is put in as the page is
  served, from the context's token (the page cache's placeholder while a usage page is built
  for billing.pagecache), and so is the language switch's ``next`` (the page's own path);
  messages, banners and the page body are outside the parts.

A template of a part sees nothing but these values (``utility`` there is a stand-in with the
fields above): anything else it named would render empty rather than be kept for the next
visitor. To show something new in a part, add it to the key below.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

# Stands in for the CSRF token while a part is rendered; split on it, joined with the real one.
CSRF_MARK = "\x00csrf\x00"
# Stands in for the page's own path in the language switch (its ``next``).
NEXT_MARK = "\x00next\x00"
# Both utilities' parts for every page, every language, signed in and out, with room to spare.
KEPT_PARTS = 2048


class PartUtility(NamedTuple):
    """What a part may show of a utility (each field is in the key)."""

    slug: str
    portal_name: str
    contact_block: str  # in the active language (portal.models.LocalText)
    language_codes: tuple[str, ...] = ()
    contact_lang: str = ""  # "ja" where the contact block stands in Japanese on another page

    def get_absolute_url(self) -> str:
        return f"{get_script_prefix()}{self.slug}/"


@register.simple_tag(takes_context=True)
def site_head(context: template.Context) -> SafeString:
    """The stylesheets (each ``{% static %}`` looks its hashed name up in the manifest)."""
    return _part(context, "includes/_site_head.html", None, False, nav=False)


@register.simple_tag(takes_context=True)
def site_header(context: template.Context) -> SafeString:
    utility, signed_in = _utility(context), False
    if utility is not None:
        user = context.get("user")
        signed_in = bool(
            user is not None
            and user.is_authenticated
            and getattr(user, "utility_id", None) == context["utility"].pk
        )
    return _part(context, "includes/_site_header.html", utility, signed_in)


@register.simple_tag(takes_context=True)
def site_footer(context: template.Context) -> SafeString:
    return _part(context, "includes/_site_footer.html", _utility(context), False, nav=False)


def _utility(context: template.Context) -> PartUtility | None:
    utility = context.get("utility")
    if utility is None:
        return None
    contact = utility.local.contact_block
    return PartUtility(
        utility.slug, utility.portal_name, contact, utility.language_codes, contact.lang
    )


def _part(
    context: template.Context,
    name: str,
    utility: PartUtility | None,
    signed_in: bool,
    nav: bool = True,
) -> SafeString:
    current = ""
    if nav:  # the header's links may mark the current page
        match = getattr(context.get("request"), "resolver_match", None)
        current = match.view_name if match is not None else ""
    pieces = _rendered(name, utility, signed_in, current, get_language(), get_script_prefix())
    html = pieces[0] if len(pieces) == 1 else str(context.get("csrf_token") or "").join(pieces)
    if NEXT_MARK in html:  # the language switch comes back to this page
        request = context.get("request")
        html = html.replace(NEXT_MARK, escape(request.get_full_path() if request else "/"))
    return mark_safe(html)


@register.simple_tag
def html_lang() -> str:
    """``<html lang>``: the active language as a browser and a screen reader know it
    (やさしい日本語 is ``ja``)."""
    language = get_language() or settings.LANGUAGE_CODE
    return settings.PORTAL_HTML_LANG.get(language, language)


@functools.lru_cache(maxsize=KEPT_PARTS)
def _rendered(
    name: str,
    utility: PartUtility | None,
    signed_in: bool,
    current: str,
    language: str | None,
    script_prefix: str,
) -> tuple[str, ...]:
    """Render a part from its key alone (language and prefix are the active ones)."""
    html = get_template(name).render(
        {
            "utility": utility,
            "signed_in": signed_in,
            "current_view": current,
            "csrf_token": CSRF_MARK,
            "next_path": NEXT_MARK,
            "language": language,
            "language_choices": [
                (code, name, settings.PORTAL_HTML_LANG.get(code, code))
                for code, name in settings.LANGUAGES
                if utility is not None and code in utility.language_codes
            ],
        }
    )
    return tuple(html.split(CSRF_MARK))
