"""会員情報's 「引越しの手続き」: accounts' template loads this; accounts imports nothing of moving."""

from __future__ import annotations

from django import template

from ..models import settings_for
from ..services import status_token

register = template.Library()


@register.inclusion_tag("moving/_profile_section.html")
def move_applications(member, utility) -> dict:
    applications = list(
        member.move_applications.filter(utility=utility).order_by("-created_at")[:10]
    )
    return {
        "utility": utility,
        "offered": settings_for(utility) is not None,
        "applications": [(a, status_token(a)) for a in applications],
    }
