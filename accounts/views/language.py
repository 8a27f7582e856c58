"""The language switch on every resident page (base.html's header)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.decorators import open_all_hours

from ..services import language as languages


# No CSRF token: the switch is on every page, cached ones and pages that set no cookie, and a
# forged post can do nothing but change the language shown. The session cookie is SameSite=Lax,
# so a post from another site never reaches a signed-in member's row.
@csrf_exempt
@open_all_hours
@login_not_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Show the utility's pages in the posted language from now on (the language cookie, a
    year); a signed-in member's mails too. Back to ``next``, a page of this site.

    A language the utility does not offer is Japanese, as the middleware would show it.
    """
    utility = request.utility
    language = request.POST.get("language", "")
    if language not in utility.language_codes:
        language = settings.LANGUAGE_CODE
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = utility.get_absolute_url()
    response = HttpResponseRedirect(next_url)
    languages.set_cookie(response, language)
    user = request.user
    if user.is_authenticated and user.is_resident and user.utility_id == utility.pk:
        languages.remember(user, language)
    return response
