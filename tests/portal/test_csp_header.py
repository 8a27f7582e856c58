"""The Content-Security-Policy header is built once (issue 17) and stays django-csp's own."""

from __future__ import annotations

import pytest
from csp.constants import NONE, SELF
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse

from portal.middleware import ContentSecurityPolicyMiddleware

pytestmark = pytest.mark.django_db


def both(response_factory=HttpResponse, path="/city/login/"):
    """The header django-csp's middleware writes, and ours, for the same request."""
    headers = []
    for middleware in (CSPMiddleware, ContentSecurityPolicyMiddleware):
        request = RequestFactory().get(path)
        response = middleware(lambda request: response_factory())(request)
        headers.append(
            (
                response.get("Content-Security-Policy"),
                response.get("Content-Security-Policy-Report-Only"),
            )
        )
    return headers


def test_every_page_gets_django_csps_header(client, utility):
    ours = client.get(reverse("accounts:login", args=[utility.slug]))
    theirs, mine = both()
    assert theirs == mine
    assert ours["Content-Security-Policy"] == theirs[0]
    assert "script-src 'self'" in theirs[0]


def test_a_changed_policy_is_sent_at_once(client, utility):
    client.get(reverse("accounts:login", args=[utility.slug]))
    policy = {"DIRECTIVES": {"default-src": [SELF], "img-src": [SELF, "data:"]}}
    report = {"DIRECTIVES": {"default-src": [NONE]}, "EXCLUDE_URL_PREFIXES": ["/city/faq/"]}
    with override_settings(
        CONTENT_SECURITY_POLICY=policy, CONTENT_SECURITY_POLICY_REPORT_ONLY=report
    ):
        response = client.get(reverse("accounts:login", args=[utility.slug]))
        assert "img-src 'self' data:" in response["Content-Security-Policy"]
        assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"
        theirs, mine = both(path="/city/faq/")
        assert theirs == mine and mine[1] is None
    response = client.get(reverse("accounts:login", args=[utility.slug]))
    assert "data:" not in response["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in response


def test_a_response_with_its_own_policy_or_exemption_keeps_it():
    def updated():
        response = HttpResponse()
        response._csp_update = {"img-src": ["data:"]}
        return response

    def exempt():
        response = HttpResponse()
        response._csp_exempt = True
        return response

    theirs, mine = both(updated)
    assert theirs == mine and "data:" in mine[0]
    assert both(exempt) == [(None, None), (None, None)]
