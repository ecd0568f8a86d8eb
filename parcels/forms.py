"""Forms of the recipient's pickup page."""

from __future__ import annotations

from django import forms

from .models import SupportCase


class RedirectForm(forms.Form):
    """Choose another nearby site; the choices are computed per request from live capacity."""

    site = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="New pickup place")

    def __init__(self, *args, sites: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [
            (site["site_id"], f"{site['name']} ({site['distance_km']} km away)") for site in sites
        ]


class ProblemForm(forms.Form):
    kind = forms.ChoiceField(choices=SupportCase.Kind.choices, widget=forms.RadioSelect, label="What went wrong?")
    message = forms.CharField(
        label="Tell us more (optional)", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    contact = forms.CharField(
        label="Phone or email to reach you (optional)", required=False, max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
    )
