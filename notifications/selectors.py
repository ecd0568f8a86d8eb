"""Named reads of the notification outbox and of recipients' choices."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from parcels.models import Parcel

from .models import Notification, OptOut, RecipientProfile


def normalise_address(*, channel: str, address: str) -> str:
    """Email addresses compare case-insensitively; phone numbers are already E.164."""
    address = address.strip()
    return address.lower() if channel == Notification.Channel.EMAIL else address


def address_opted_out(*, channel: str, address: str) -> bool:
    """True if the address refused this channel (STOP reply, account setting or operator)."""
    return OptOut.objects.filter(channel=channel, address=normalise_address(channel=channel, address=address)).exists()


def profile_for(user) -> RecipientProfile | None:
    return RecipientProfile.objects.filter(user=user).select_related("preferred_site").first()


def user_verified_addresses(user) -> tuple[list[str], list[str]]:
    """The user's verified email addresses and verified phone numbers."""
    from allauth.account.models import EmailAddress

    emails = list(EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True))
    profile = profile_for(user)
    phones = [profile.phone] if profile and profile.phone and profile.phone_verified else []
    return emails, phones


def parcels_for_user(user) -> QuerySet[Parcel]:
    """Parcels addressed to one of the user's verified email addresses or phone numbers."""
    emails, phones = user_verified_addresses(user)
    match = Q(pk__in=[])
    for email in emails:
        match |= Q(recipient_email__iexact=email)
    if phones:
        match |= Q(recipient_phone__in=phones)
    return Parcel.objects.filter(match).select_related("site", "partner").order_by("-created_at")
