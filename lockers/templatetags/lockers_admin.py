"""Template tags of the operator console."""

from __future__ import annotations

from django import template

from lockers import selectors

register = template.Library()


@register.simple_tag
def network_totals() -> dict[str, object]:
    # A tag rather than a custom AdminSite: the stock admin site and its index view
    # stay as they are, and only the template asks for the numbers.
    return selectors.network_totals()
