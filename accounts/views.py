"""Recipient account pages: the parcels addressed to me, and my preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from notifications.channels import DeliveryError
from notifications.models import Notification
from notifications.selectors import address_opted_out, parcels_for_user, profile_for, user_verified_addresses
from notifications.services import profile_phone_verified, profile_update
from parcels.services import page_token

from .forms import PhoneCodeForm, PhoneForm, PreferencesForm
from .phone import PhoneVerificationLimited, phone_code_check, phone_code_send, phone_pending


@login_required
def my_parcels(request: HttpRequest) -> HttpResponse:
    parcels = [(parcel, page_token(parcel)) for parcel in parcels_for_user(request.user)]
    emails, phones = user_verified_addresses(request.user)
    return render(request, "account/my_parcels.html", {"parcels": parcels, "emails": emails, "phones": phones})


def _current_choices(user) -> dict:
    profile = profile_for(user)
    emails, phones = user_verified_addresses(user)
    return {
        "language": profile.language if profile else "en",
        "preferred_site": profile.preferred_site if profile else None,
        "email": not any(address_opted_out(channel=Notification.Channel.EMAIL, address=a) for a in emails),
        "sms": not any(address_opted_out(channel=Notification.Channel.SMS, address=a) for a in phones),
    }


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, initial=_current_choices(request.user))
    if request.method == "POST" and form.is_valid():
        site = form.cleaned_data["preferred_site"]
        profile_update(
            user=request.user, language=form.cleaned_data["language"], preferred_site_id=site.pk if site else None,
            sms=form.cleaned_data["sms"], email=form.cleaned_data["email"],
        )
        messages.success(request, "Your preferences are saved.")
        return redirect("accounts:preferences")
    return render(request, "account/preferences.html", {"form": form})


@login_required
def phone(request: HttpRequest) -> HttpResponse:
    """Step one: the number to prove; a code goes to it by SMS."""
    form = PhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            phone_code_send(session=request.session, user_id=request.user.pk, phone=form.cleaned_data["phone"].as_e164)
        except PhoneVerificationLimited as limited:
            messages.error(request, str(limited))
        except DeliveryError:
            messages.error(request, "We could not send a text to this number. Check it and try again.")
        else:
            return redirect("accounts:phone_confirm")
    return render(request, "account/phone.html", {"form": form, "profile": profile_for(request.user)})


@login_required
def phone_confirm(request: HttpRequest) -> HttpResponse:
    """Step two: the code from the text proves the number."""
    pending = phone_pending(request.session)
    if pending is None:
        return redirect("accounts:phone")
    form = PhoneCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proven = phone_code_check(session=request.session, user_id=request.user.pk, code=form.cleaned_data["code"])
        except PhoneVerificationLimited as limited:
            messages.error(request, str(limited))
            return redirect("accounts:phone")
        if proven:
            profile_phone_verified(user=request.user, phone=proven)
            messages.success(request, f"Your phone number {proven} is verified.")
            return redirect("accounts:my_parcels")
        form.add_error("code", "This code is wrong or has expired.")
    return render(request, "account/phone_confirm.html", {"form": form, "phone": pending})
