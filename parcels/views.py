"""The recipient's pickup page: one server-rendered page per parcel, reached by an
unguessable link, with three actions (extend, change site, report a problem).

Every action is a POST with CSRF that calls one service and redirects back to the page.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from lockers.models import Site

from .allocation import nearby_sites_with_room
from .errors import ParcelError
from .forms import ProblemForm, RedirectForm
from .lifecycle import STATUS_CATALOGUE, Who
from .models import Actor, Parcel, ParcelStatus
from .selectors import parcel_by_page_token, parcel_timeline
from .services import RECIPIENT_EXTENSIONS_ALLOWED, code_secrets, parcel_extend, parcel_redirect
from .support import support_case_open

# A link to a parcel that is over and gone tells the recipient so and shows nothing else.
CLOSED_STATUSES = {
    ParcelStatus.CANCELLED: gettext_lazy("This parcel was cancelled by the sender, so this link no longer works."),
    ParcelStatus.EXPIRED: gettext_lazy("The time to pick up this parcel has passed. It is going back to the sender."),
    ParcelStatus.RETURNED_TO_SENDER: gettext_lazy("This parcel was not picked up in time and went back to the sender."),
}
UNKNOWN_LINK = gettext_lazy(
    "This link does not match any parcel. Check that you opened the whole link from your message."
)
CODE_STATUSES = {ParcelStatus.READY_FOR_PICKUP, ParcelStatus.RETURN_ANNOUNCED}
REDIRECTABLE = {ParcelStatus.ANNOUNCED, ParcelStatus.RESERVED}
EVENT_LABELS = {
    "announced": gettext_lazy("The sender told us your parcel is coming"),
    "return_announced": gettext_lazy("Return registered"),
    "reserved": gettext_lazy("A locker door was booked for your parcel"),
    "reserve": gettext_lazy("A locker door was booked for your parcel"),
    "release_hold": gettext_lazy("The booked door was released"),
    "change_door": gettext_lazy("Your parcel was given another door"),
    "refuse_deposit": gettext_lazy("The courier could not put your parcel in the locker yet"),
    "deposit": gettext_lazy("Your parcel was put in the locker"),
    "extend": gettext_lazy("Pickup time extended"),
    "reissue_code": gettext_lazy("A new code was issued"),
    "door_opened_for_pickup": gettext_lazy("The door was opened with your code"),
    "pick_up": gettext_lazy("Picked up"),
    "expire": gettext_lazy("The pickup time ran out"),
    "collect": gettext_lazy("The courier took the parcel back"),
    "cancel": gettext_lazy("Cancelled by the sender"),
    "redirect": gettext_lazy("Your parcel was sent to another place"),
    "drop_off": gettext_lazy("Return dropped off"),
    "problem_reported": gettext_lazy("You reported a problem"),
}
STATUS_TITLES = {info.code: gettext_lazy(info.title) for info in STATUS_CATALOGUE}
# The catalogue speaks to partners about "the recipient"; the page speaks to the recipient.
STATUS_FOR_RECIPIENT = {
    ParcelStatus.ANNOUNCED: gettext_lazy("Your parcel is on its way. We will send your code when it is in the locker."),
    ParcelStatus.RESERVED: gettext_lazy(
        "A locker door is booked for your parcel. We will send your code when it is inside."
    ),
    ParcelStatus.READY_FOR_PICKUP: gettext_lazy("Your parcel is in the locker. Use the code below to open the door."),
    ParcelStatus.PICKED_UP: gettext_lazy("You picked up this parcel. This page is your receipt."),
    ParcelStatus.RETURN_ANNOUNCED: gettext_lazy(
        "Take your return to the locker and use the code below to open a door."
    ),
    ParcelStatus.DROPPED_OFF: gettext_lazy("Your return is in the locker. A courier will collect it."),
}
WEEKDAYS = [
    ("mon", gettext_lazy("Monday")), ("tue", gettext_lazy("Tuesday")), ("wed", gettext_lazy("Wednesday")),
    ("thu", gettext_lazy("Thursday")), ("fri", gettext_lazy("Friday")), ("sat", gettext_lazy("Saturday")),
    ("sun", gettext_lazy("Sunday")),
]


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is the key to the parcel: keep it out of other sites' Referer
    # headers, shared caches and search engines. Same-origin (not no-referrer) because a
    # browser sends `Origin: null` under no-referrer and CSRF checking rightly refuses that.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def with_parcel(view):
    """Resolve the page token to its parcel, or answer 404 (unknown link) or 410 (parcel closed) with a message."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str) -> HttpResponse:
        parcel = parcel_by_page_token(token)
        # The page speaks the language of the recipient's messages.
        language = parcel.recipient_language if parcel else translation.get_language()
        with translation.override(language):
            if parcel is None or parcel.status in CLOSED_STATUSES:
                reason = CLOSED_STATUSES[parcel.status] if parcel else UNKNOWN_LINK
                status = 404 if parcel is None else 410
                response = render(request, "parcels/closed.html", {"reason": reason}, status=status)
            else:
                response = view(request, parcel, token)
        response["Content-Language"] = language
        return _private(response)

    return never_cache(wrapper)


def _qr_svg(parcel: Parcel) -> str:
    """The QR code of the parcel's QR token (never the PIN), as inline SVG that scales to the screen."""
    _pin, qr_token = code_secrets(parcel.pickup_code)
    qr = segno.make_qr(qr_token, error="m")
    return qr.svg_inline(scale=1, border=4, omitsize=True, title=_("QR code to open your door"), svgclass="qr")


def _opening_hours(site: Site) -> list[tuple[str, str]]:
    if site.always_open:
        return []
    return [
        (name, ", ".join(f"{start}-{end}" for start, end in site.opening_hours.get(day, [])) or _("Closed"))
        for day, name in WEEKDAYS
    ]


def _nearby(parcel: Parcel) -> list[dict[str, Any]]:
    if parcel.status not in REDIRECTABLE or parcel.kind == Parcel.Kind.RETURN:
        return []
    try:
        return nearby_sites_with_room(parcel)
    except ParcelError:
        return []


def _page_context(parcel: Parcel, token: str, **forms: Any) -> dict[str, Any]:
    site = parcel.site
    context: dict[str, Any] = {
        "parcel": parcel,
        "token": token,
        "site": site,
        "status_title": STATUS_TITLES[parcel.status],
        "status_text": STATUS_FOR_RECIPIENT.get(parcel.status, ""),
        "timeline": [
            (event, EVENT_LABELS.get(event.type, event.type.replace("_", " ").capitalize()))
            for event in parcel_timeline(parcel)
        ],
        "opening_hours": _opening_hours(site),
        "site_tz": site.tz,
        "now": timezone.now(),
        "can_extend": parcel.status == ParcelStatus.READY_FOR_PICKUP
        and parcel.extensions_used < RECIPIENT_EXTENSIONS_ALLOWED,
        "problem_form": forms.get("problem_form") or ProblemForm(),
    }
    if parcel.status in CODE_STATUSES and parcel.pickup_code is not None:
        context["pin"] = code_secrets(parcel.pickup_code)[0]
        context["qr_svg"] = _qr_svg(parcel)
    nearby = _nearby(parcel)
    if nearby:
        context["redirect_form"] = forms.get("redirect_form") or RedirectForm(sites=nearby)
    return context


@require_GET
@with_parcel
def pickup_page(request: HttpRequest, parcel: Parcel, token: str) -> HttpResponse:
    return render(request, "parcels/pickup_page.html", _page_context(parcel, token))


def _back(token: str) -> HttpResponse:
    return redirect("parcels:pickup_page", token=token)


def _recipient() -> Who:
    return Who(Actor.RECIPIENT, label="pickup page")


@require_POST
@with_parcel
def pickup_extend(request: HttpRequest, parcel: Parcel, token: str) -> HttpResponse:
    try:
        parcel_extend(parcel_id=parcel.pk, who=_recipient())
    except ParcelError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Done: you have more time to pick up your parcel."))
    return _back(token)


@require_POST
@with_parcel
def pickup_redirect(request: HttpRequest, parcel: Parcel, token: str) -> HttpResponse:
    form = RedirectForm(request.POST, sites=_nearby(parcel))
    if not form.is_valid():
        messages.error(request, _("Choose one of the places listed."))
        return _back(token)
    try:
        site = Site.objects.get(pk=form.cleaned_data["site"])
        parcel_redirect(parcel_id=parcel.pk, site=site, who=_recipient())
    except ParcelError as error:
        messages.error(request, error.detail)
    else:
        done = _("Done: your parcel now goes to %(site)s. We will tell you when it is ready.")
        messages.success(request, done % {"site": site.name})
    return _back(token)


@require_POST
@with_parcel
def pickup_problem(request: HttpRequest, parcel: Parcel, token: str) -> HttpResponse:
    form = ProblemForm(request.POST)
    if not form.is_valid():
        context = _page_context(parcel, token, problem_form=form)
        return render(request, "parcels/pickup_page.html", context, status=400)
    support_case_open(parcel=parcel, **form.cleaned_data)
    messages.success(request, _("Thank you: we have your report and will get back to you."))
    return _back(token)
