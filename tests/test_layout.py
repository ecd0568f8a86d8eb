"""`locker_lay_out`: a locker's doors from a layout description, in one step."""

from __future__ import annotations

import pytest

from lockers.models import Compartment
from lockers.services import LayoutError, locker_lay_out, parse_layout
from tests.factories import LockerFactory, SizeClassFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sizes() -> None:
    SizeClassFactory(code="S", inner_height_mm=80)
    SizeClassFactory(code="M", inner_height_mm=190)
    SizeClassFactory(code="L", inner_height_mm=410)


def test_it_labels_doors_by_column_letter_and_row_from_the_bottom(sizes: None) -> None:
    locker = LockerFactory()

    locker_lay_out(locker=locker, layout="L M S\nS S")

    doors = {(door.label, door.column, door.row, door.size_class.code) for door in locker.compartments.all()}
    assert doors == {("A1", 1, 1, "L"), ("A2", 1, 2, "M"), ("A3", 1, 3, "S"), ("B1", 2, 1, "S"), ("B2", 2, 2, "S")}


def test_it_returns_the_created_compartments(sizes: None) -> None:
    created = locker_lay_out(locker=LockerFactory(), layout="S S S\nM M")

    assert len(created) == 5 == Compartment.objects.count()


def test_it_reads_size_codes_case_insensitively_with_commas_comments_and_blank_lines(sizes: None) -> None:
    locker = LockerFactory()

    locker_lay_out(locker=locker, layout="# left column\ns, m\n\n  L  \n")

    assert [door.label for door in locker.compartments.order_by("column", "row")] == ["A1", "A2", "B1"]


def test_columns_after_z_get_two_letters(sizes: None) -> None:
    locker = LockerFactory()

    locker_lay_out(locker=locker, layout="\n".join(["S"] * 28))

    assert locker.compartments.get(column=27).label == "AA1"
    assert locker.compartments.get(column=28).label == "AB1"


def test_a_zone_prefix_makes_a_column_chilled(sizes: None) -> None:
    locker = LockerFactory()

    locker_lay_out(locker=locker, layout="S S\nChilled: M M")

    zones = dict(locker.compartments.values_list("label", "temperature_zone"))
    assert zones == {"A1": "ambient", "A2": "ambient", "B1": "chilled", "B2": "chilled"}


def test_only_doors_within_wheelchair_reach_are_accessible(sizes: None) -> None:
    locker = LockerFactory()

    locker_lay_out(locker=locker, layout="S M L M M")

    doors = locker.compartments.order_by("row")
    assert [door.accessible for door in doors] == [False, True, True, True, False]
    # Reach grows with each door stacked below; the bottom door sits under 381 mm.
    assert [door.reach_height_mm for door in doors] == sorted(door.reach_height_mm for door in doors)
    assert doors[0].reach_height_mm < 381 and doors[4].reach_height_mm > 1219


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("S S XXL", "Unknown size class xxl"),
        ("frozen-ish: S S", "unknown temperature zone"),
        ("# only a comment\n", "The layout is empty"),
        ("chilled:", "at least one door"),
        ("\n".join(["S S S S S S S S S S"] * 26), "more than a locker may have"),
    ],
)
def test_it_refuses_a_layout_it_cannot_build_and_writes_nothing(sizes: None, layout: str, message: str) -> None:
    locker = LockerFactory()

    with pytest.raises(LayoutError, match=message):
        locker_lay_out(locker=locker, layout=layout)

    assert not Compartment.objects.exists()


def test_it_refuses_to_lay_out_a_locker_that_already_has_doors(sizes: None) -> None:
    locker = LockerFactory()
    locker_lay_out(locker=locker, layout="S S")

    with pytest.raises(LayoutError, match="already has compartments"):
        locker_lay_out(locker=locker, layout="M M M")

    assert list(locker.compartments.values_list("label", flat=True).order_by("row")) == ["A1", "A2"]


def test_parse_layout_keeps_column_order_and_zones() -> None:
    columns = parse_layout("S M\nfrozen: L")

    assert [(column.zone, column.sizes) for column in columns] == [("ambient", ("s", "m")), ("frozen", ("l",))]
