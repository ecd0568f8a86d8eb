"""Recipient account settings."""

from __future__ import annotations

from django import forms
from django.conf import settings
from phonenumber_field.formfields import PhoneNumberField

from lockers.models import Site


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES, label="Language for messages")
    preferred_site = forms.ModelChoiceField(
        queryset=Site.objects.filter(status=Site.Status.ACTIVE), required=False, label="Preferred pickup place",
        empty_label="No preference",
    )
    email = forms.BooleanField(required=False, label="Send me emails about my parcels")
    sms = forms.BooleanField(required=False, label="Send me text messages (SMS) about my parcels")


class PhoneForm(forms.Form):
    phone = PhoneNumberField(label="Mobile phone number", widget=forms.TextInput(attrs={"autocomplete": "tel",
                                                                                       "type": "tel"}))


class PhoneCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the text message", max_length=6, min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
