"""Forms of the dashboard. `OrderForm` checks both a typed order and each CSV row,
so the page and the import accept exactly the same orders.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from phonenumber_field.formfields import PhoneNumberField

from carriers.models import Partner
from lockers.models import Site, SizeClass
from parcels.models import Parcel
from parcels.services import ParcelSpec, Recipient

MAX_MM = 3000


class SizeCodeField(forms.ModelChoiceField):
    """A size class by its code, whatever the case the spreadsheet used."""

    def to_python(self, value: Any) -> SizeClass | None:
        if value in self.empty_values:
            return None
        found = self.queryset.filter(code__iexact=str(value).strip()).first()
        if found is None:
            raise ValidationError(f"Unknown size {value!r}.", code="invalid_choice")
        return found


def _millimetres(label: str) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=1, max_value=MAX_MM)


class OrderForm(forms.Form):
    """One click-and-collect order. Times are read in the store's time zone (the view
    and the import activate it), so staff type the wall-clock time they promised.
    """

    order_number = forms.CharField(max_length=64, label="Order number")
    customer_name = forms.CharField(max_length=120, label="Customer name")
    phone = PhoneNumberField(required=False, label="Phone", help_text="For the SMS with the pickup code.")
    email = forms.EmailField(required=False, label="Email")
    size = SizeCodeField(
        queryset=SizeClass.objects.all(), to_field_name="code", required=False, label="Size",
        help_text="Pick a size, or give the item's dimensions instead.",
    )
    length_mm = _millimetres("Length (mm)")
    width_mm = _millimetres("Width (mm)")
    height_mm = _millimetres("Height (mm)")
    weight_g = forms.IntegerField(label="Weight (g)", required=False, min_value=1, max_value=100_000)
    temperature = forms.ChoiceField(
        choices=Parcel.TemperatureNeed.choices, required=False, initial=Parcel.TemperatureNeed.AMBIENT,
        label="Needs", help_text="Chilled or frozen goods go in a cooled door.",
    )
    promised_at = forms.DateTimeField(
        required=False, label="Promised ready by", help_text="Store time, e.g. 2026-11-24 17:00.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_order_number(self) -> str:
        number = self.cleaned_data["order_number"].strip()
        if not number:
            raise ValidationError("Give the order number.")
        return number

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            raise ValidationError("Give the customer's phone or email, so they learn where to collect.")
        dimensions = [data.get(name) for name in ("length_mm", "width_mm", "height_mm")]
        if data.get("size") is None and not all(dimensions):
            raise ValidationError("Give a size, or all three dimensions.")
        return data

    def recipient(self) -> Recipient:
        data = self.cleaned_data
        phone = data.get("phone")
        return Recipient(
            name=data["customer_name"], phone=phone.as_e164 if phone else "", email=data.get("email") or ""
        )

    def spec(self) -> ParcelSpec:
        data = self.cleaned_data
        return ParcelSpec(
            size_class=data.get("size"), promised_at=data.get("promised_at"),
            length_mm=data.get("length_mm"), width_mm=data.get("width_mm"), height_mm=data.get("height_mm"),
            weight_g=data.get("weight_g"),
            temperature_need=data.get("temperature") or Parcel.TemperatureNeed.AMBIENT,
        )


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma separated, header row as in the template.")


class SearchForm(forms.Form):
    q = forms.CharField(max_length=80, required=False, label="Order number, customer name, email or phone")


class DoorProblemForm(forms.Form):
    problem = forms.ChoiceField(choices=[("too_small", "Door too small"), ("broken", "Door broken")])


def _day(label: str) -> forms.DateField:
    return forms.DateField(
        required=False, label=label, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class KpiRangeForm(forms.Form):
    start = _day("From")
    end = _day("To")


class StoresField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class AssociateStoresForm(forms.Form):
    stores = StoresField(queryset=None, required=False, label="Stores")

    def __init__(self, *args: Any, retailer: Partner, store_list: list[Site] | None = None, **kwargs: Any) -> None:
        """`store_list`: the retailer's stores by name, read once for a page of many forms."""
        super().__init__(*args, **kwargs)
        field = self.fields["stores"]
        field.queryset = retailer.stores.order_by("name")  # what a submitted form may choose
        if store_list is not None:  # rendered from the list, without a query per form
            field.choices = [(field.prepare_value(store), field.label_from_instance(store)) for store in store_list]


class AssociateAddForm(AssociateStoresForm):
    email = forms.EmailField(label="Email of their account")
