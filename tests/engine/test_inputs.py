"""The rules any input must meet (engine/inputs.py): identifiers with their check digits and letters,
characters that can be stored, and a contact's dates (engine/rules.py)."""
from __future__ import annotations

from datetime import date

import pytest

from engine.inputs import (bad_character, character_problem, is_email, is_uk_phone, is_uk_postcode,
                           nhs_number_problem, repaired, upn_check_letter, upn_problem)
from engine.rules import contact_date_errors


@pytest.mark.parametrize("number,problem", [
    ("943 476 5919", None), ("9434765919", None), ("943-476-5919", None),
    ("943 476 5918", "check digit"), ("485 777 3456", "check digit"),
    ("943 476 591", "shape"), ("94347659190", "shape"), ("943 476 591X", "shape"), ("", "shape"),
])
def test_nhs_numbers_by_their_modulus_11_check_digit(number, problem):
    """9,4,3,4,7,6,5,9,1 weighted 10 down to 2 sum to 299; 299 mod 11 = 2; 11 - 2 = 9, the last digit."""
    assert nhs_number_problem(number) == problem


def test_nhs_check_digits_of_eleven_and_ten():
    """A remainder of 0 gives 11, written 0; a remainder of 1 gives 10, which no NHS number has."""
    def weighted(body: str) -> int:
        return sum(int(d) * w for d, w in zip(body, range(10, 1, -1))) % 11
    zero = "999000005"  # 90 + 81 + 72 + 5 * 2 = 253 = 11 * 23
    assert weighted(zero) == 0
    assert nhs_number_problem(zero + "0") is None and nhs_number_problem(zero + "1") == "check digit"
    ten = "100000001"  # 10 + 2 = 12, remainder 1
    assert weighted(ten) == 1
    assert all(nhs_number_problem(ten + str(last)) == "check digit" for last in range(10))


def test_upns_by_the_dfe_check_letter():
    """926 10 00001 1 0: 9*2 + 2*3 + 6*4 + 1*5 + 1*11 + 1*12 = 76; 76 mod 23 = 7: H. A temporary UPN's last
    letter counts as its number in the same table (A = 0), so ...11A gives the same sum."""
    assert upn_check_letter("926100000110") == "H" and upn_problem("H926100000110") is None
    assert upn_problem("H92610000011A") is None and upn_problem("h926100000110") is None
    assert upn_problem("A926100000110") == "check letter"
    for bad in ("H92610000011", "H9261000001100", "1926100000110", "H92610000011I", "I926100000110", ""):
        assert upn_problem(bad) == "shape", bad


@pytest.mark.parametrize("text,valid", [
    ("name@example.com", True), ("dsl@rosewood.example.sch.uk", True), ("o'brien+cads@norfolk.gov.uk", True),
    ("name.example.com", False), ("name@example", False), ("name @example.com", False), ("a..b@example.com", False),
    ("name@-example.com", False), ("@example.com", False), ("2026-12-14", False), ("x" * 65 + "@example.com", False),
])
def test_email_addresses(text, valid):
    assert is_email(text) is valid


@pytest.mark.parametrize("text,valid", [
    ("01632 960 001", True), ("07700 900982", True), ("+44 7700 900982", True), ("+44 (0)1603 555019", True),
    ("0044 1603 555019", True), ("020 7946 0000", True), ("0800 123 4567", True), ("01603 222333 ext 214", True),
    ("(01603) 222-333", True),
    ("01603 555 0192", False), ("999", False), ("+1 212 555 0100", False), ("07700 9009821", False),
    ("00 1603 555019", False), ("phone me", False),
])
def test_uk_phone_numbers(text, valid):
    assert is_uk_phone(text) is valid


@pytest.mark.parametrize("text,valid", [
    ("NR3 2AB", True), ("nr32ab", True), ("SW1A 1AA", True), ("EC1A 1BB", True), ("W1A 0AX", True),
    ("M1 1AE", True), ("B33 8TH", True), ("DN55 1PT", True), ("GIR 0AA", True),
    ("NR3 2A", False), ("QQ1 1AA", False), ("NR3 2CB", False), ("12345", False), ("NR3  2AB", False),
])
def test_uk_postcodes(text, valid):
    assert is_uk_postcode(text) is valid


def test_characters_that_cannot_be_stored():
    assert bad_character("Zoë 🙂 “quoted”\u2028") is None  # any other Unicode is text
    assert bad_character("line\r\none\ttab") is None and bad_character("line\none", multiline=False) == 4
    assert [bad_character(c) for c in ("\x00", "\x07", "\x7f", "\x85", "\ud800", "\udfff")] == [0] * 6
    assert character_problem("Reason", "safe") is None
    assert character_problem("Reason", "New\x07 disclosure") == \
        "Reason contains a hidden control character (U+0007) after “New”, which cannot be stored: remove it"
    assert character_problem("Password", "secret\x00", quote=False) == \
        "Password contains a NUL character (U+0000), which cannot be stored: remove it"
    assert character_problem("First name", "Amy\nLee", multiline=False) == \
        "First name must be on one line: remove the line break after “Amy”"
    assert repaired("a\x0bb\x0cc\x07d\ud800e\tf\ng") == "a\nb\nc\ufffdd\ufffde\tf\ng"
    assert repaired("ordinary 🙂") == "ordinary 🙂"


def test_a_contacts_impossible_dates():
    today = date(2026, 12, 14)
    payload = {"received_on": "2026-12-15",
               "children": [{"date_of_birth": "2026-12-14"}, {"date_of_birth": "2026-12-15"},
                            {"unborn": True, "date_of_birth": "2026-01-01", "expected_date_of_birth": "2027-02-01"},
                            {"unborn": True, "expected_date_of_birth": "2027-02-01"}, "not a child"],
               "family_members": [{"date_of_birth": "2030-01-01"}, {"date_of_birth": "not a date"}]}
    errors = {e.field: e.message for e in contact_date_errors(payload, today)}
    assert set(errors) == {"received_on", "children.1.date_of_birth", "children.2.date_of_birth",
                           "family_members.0.date_of_birth"}
    assert errors["children.1.date_of_birth"].startswith("Date of birth cannot be in the future (today is 14 "
                                                         "December 2026). If the child is not born yet")
    assert errors["family_members.0.date_of_birth"] == "Date of birth cannot be in the future (today is 14 December 2026)"
    assert contact_date_errors(["not", "a", "contact"], today) == []
