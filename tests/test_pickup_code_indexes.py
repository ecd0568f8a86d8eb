"""A pickup code's QR hash is unique among live codes, and a used code takes an entry only in
the indexes every row needs: using a code is the hottest write of the network."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from parcels.models import PickupCode
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


def _code(site, *, qr_hash: str, pin_hash: str, seed: str) -> PickupCode:
    return PickupCode.objects.create(site=site, purpose=PickupCode.Purpose.PICKUP, seed=seed,
                                     pin_hash=pin_hash, qr_hash=qr_hash)


def test_two_live_codes_cannot_share_a_qr_hash_even_at_different_sites():
    first = _code(SiteFactory(), qr_hash="q" * 64, pin_hash="a" * 64, seed="s1")

    with pytest.raises(IntegrityError), transaction.atomic():
        _code(SiteFactory(), qr_hash=first.qr_hash, pin_hash="b" * 64, seed="s2")

    assert PickupCode.objects.filter(qr_hash=first.qr_hash).count() == 1


def test_a_used_codes_qr_hash_no_longer_holds_its_place():
    used = _code(SiteFactory(), qr_hash="q" * 64, pin_hash="a" * 64, seed="s1")
    PickupCode.objects.filter(pk=used.pk).update(state=PickupCode.State.USED)

    live = _code(SiteFactory(), qr_hash=used.qr_hash, pin_hash="b" * 64, seed="s2")

    assert live.state == PickupCode.State.LIVE


@pytest.mark.postgres
def test_a_used_code_is_written_only_to_the_primary_key_and_the_site_index():
    # Using a code cannot be a HOT update (the live indexes read its state), so every index
    # that holds all rows takes an entry for the used version; the live ones take none.
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "WHERE i.indrelid = 'parcels_pickupcode'::regclass AND i.indpred IS NULL ORDER BY 1")
        of_every_row = [name for (name,) in cursor.fetchall()]

    assert of_every_row == ["parcels_pickupcode_pkey", "parcels_pickupcode_site_id_df8bfa44"]
