"""Forms of the recipient's pickup page (labels in the recipient's language)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import SupportCase

# Recipient wording for the operator's case kinds.
PROBLEM_CHOICES = [
    (SupportCase.Kind.DOOR_DID_NOT_OPEN, _("The door did not open")),
    (SupportCase.Kind.DAMAGED, _("The parcel is damaged")),
    (SupportCase.Kind.WRONG_PARCEL, _("It is not my parcel")),
    (SupportCase.Kind.OTHER, _("Something else")),
]


class RedirectForm(forms.Form):
    """Choose another nearby site; the choices are computed per request from live capacity."""

    site = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label=_("New pickup place"))

    def __init__(self, *args, sites: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [
            (site["site_id"], gettext("%(name)s (%(km)s km away)") % {"name": site["name"], "km": site["distance_km"]})
            for site in sites
        ]


class ProblemForm(forms.Form):
    kind = forms.ChoiceField(choices=PROBLEM_CHOICES, widget=forms.RadioSelect, label=_("What went wrong?"))
    message = forms.CharField(
        label=_("Tell us more (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    contact = forms.CharField(
        label=_("Phone or email to reach you (optional)"), required=False, max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
    )
