"""The SMS gateway's inbound webhook: recipients' STOP and START replies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .channels import twilio_signature_valid
from .models import Notification, OptOut
from .services import optout_add, optout_remove

# Twilio's standard opt-out and opt-in keywords, plus common Spanish ones.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "PARAR", "BAJA"}
START_WORDS = {"START", "YES", "UNSTOP", "ALTA"}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt  # a server-to-server POST, authenticated by the gateway's signature instead
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """Honour STOP and START replies posted back by Twilio; anything else is ignored."""
    # Twilio signs the URL it was configured with: the public one, not what a proxy passes on.
    url = settings.SITE_URL.rstrip("/") + request.get_full_path()
    params = {key: request.POST[key] for key in request.POST}
    if not twilio_signature_valid(url=url, params=params, signature=request.headers.get("X-Twilio-Signature", "")):
        return HttpResponseForbidden("Invalid signature.")
    sender = params.get("From", "").strip()
    word = params.get("Body", "").strip().upper().rstrip(".!")
    if sender and word in STOP_WORDS:
        optout_add(channel=Notification.Channel.SMS, address=sender, source=OptOut.Source.SMS_STOP)
    elif sender and word in START_WORDS:
        optout_remove(channel=Notification.Channel.SMS, address=sender)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
