"""What any piece of input must be, wherever it comes from: characters that can be stored, dates
in a plausible range, and the UK identifiers the forms ask for (email, phone, postcode, NHS
number, UPN). The forms (engine/forms.py), the web's door (webui/limits.py) and the repair of
stored text (store/repair.py) all use these, so each rule is written once.
"""
from __future__ import annotations

import re
from datetime import date

EARLIEST_DATE = date(1900, 1, 1)  # earlier is a typing slip (and 12 months before year 1 does not exist)
LATEST_DATE = date(2100, 12, 31)
DATE_RANGE_WORDS = "between 1 January 1900 and 31 December 2100"

# Control characters (Unicode category Cc) and UTF-16 surrogates. PostgreSQL cannot store NUL in
# text, a lone surrogate cannot be encoded as UTF-8 at all (a page or pack holding one fails), and
# the rest are invisible. Tab, line feed and carriage return are ordinary in multi-line text.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"  # what repaired text shows where an unreadable character was


def bad_character(text: str, multiline: bool = True) -> int | None:
    """Where the first character that may not be stored is (None if there is none).

    ``multiline``: tab, line feed and carriage return are allowed (text areas), else refused too."""
    found = (_NOT_TEXT if multiline else _NOT_ONE_LINE).search(text)
    return found.start() if found else None


def character_words(char: str) -> str:
    """A character that may not be stored, named in plain words."""
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return f"a NUL character ({code})"
    if char == "\t":
        return "a tab"
    if char in "\r\n":
        return "a line break"
    if "\ud800" <= char <= "\udfff":
        return f"an incomplete character ({code}, half of a pair)"
    return f"a hidden control character ({code})"


def character_problem(subject: str, text: str, multiline: bool = True, quote: bool = True) -> str | None:
    """'<subject> contains ... after “...”: remove it', or None when ``text`` may be stored.

    ``quote``: show the words before the character, so it can be found (never for a password)."""
    at = bad_character(text, multiline)
    if at is None:
        return None
    char = text[at]
    before = _NOT_TEXT.sub("", text[max(0, at - 20):at]).replace("\n", " ").strip()
    where = (f" after “{before}”" if before else " at the start") if quote else ""
    if char in "\r\n" and not multiline:
        return f"{subject} must be on one line: remove the line break{where}"
    return f"{subject} contains {character_words(char)}{where}, which cannot be stored: remove it"


def repaired(text: str) -> str:
    """``text`` with what may not be stored replaced: a vertical tab or form feed (Word's manual
    line and page breaks) becomes a line break, anything else the replacement character."""
    if not _NOT_TEXT.search(text):
        return text
    return _NOT_TEXT.sub(lambda m: "\n" if m.group() in "\x0b\x0c" else REPLACEMENT, text)


# -- dates ---------------------------------------------------------------------------------
def in_date_range(day: date) -> bool:
    """Whether ``day`` is in the years any record here can be about (1900 to 2100)."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def day_words(day: date) -> str:
    """'14 December 2026', as GOV.UK writes dates."""
    return f"{day.day} {day:%B} {day.year}"


# -- identifiers ---------------------------------------------------------------------------
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")
_PHONE_SEPARATORS = re.compile(r"[\s()\-.]")
_PHONE_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x)\s*\d{1,6}$", re.IGNORECASE)
# 0 then 9 or 10 digits (the UK's 10- and 11-digit numbers), the 0 optionally written +44 or +44 (0)
_UK_PHONE = re.compile(r"(?:(?:\+44|0044)0?|0)[1-9]\d{8,9}")
_POSTCODE = re.compile(r"GIR ?0AA|(?:[A-PR-UWYZ](?:\d[A-HJKPSTUW]?|\d\d|[A-HK-Y]\d[ABEHMNPRVWXY]?|[A-HK-Y]\d\d))"
                       r" ?\d[ABD-HJLNP-UW-Z]{2}", re.IGNORECASE)
_NHS = re.compile(r"(\d{3})[ -]?(\d{3})[ -]?(\d{4})")
_UPN = re.compile(r"[A-Z]\d{11}[0-9A-Z]")
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the DfE check letters: 0 = A ... 22 = Z (no I, O or S)


def is_email(text: str) -> bool:
    """A plausible email address: name@domain.tld, no spaces, at most 254 characters."""
    return len(text) <= 254 and _EMAIL.fullmatch(text) is not None and len(text.split("@")[0]) <= 64


def is_uk_phone(text: str) -> bool:
    """A UK phone number (10 or 11 digits from 0, or +44), spaced or bracketed as people write
    them, optionally with an extension ('ext 214')."""
    number = _PHONE_EXTENSION.sub("", text.strip())
    return _UK_PHONE.fullmatch(_PHONE_SEPARATORS.sub("", number)) is not None


def is_uk_postcode(text: str) -> bool:
    """A UK postcode in the Royal Mail's format, such as NR3 2AB (any case, space optional)."""
    return _POSTCODE.fullmatch(text.strip()) is not None


def nhs_number_problem(text: str) -> str | None:
    """None for a valid NHS number; else 'shape' (not 10 digits) or 'check digit' (modulus 11)."""
    found = _NHS.fullmatch(text.strip())
    if not found:
        return "shape"
    digits = [int(d) for d in "".join(found.groups())]
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return None if check != 10 and check == digits[9] else "check digit"


def upn_check_letter(body: str) -> str:
    """The DfE check letter of a UPN's last 12 characters (a letter in 13th place counts as its
    number in the same table, as temporary UPNs have)."""
    values = [int(c) if c.isdigit() else UPN_LETTERS.index(c) for c in body.upper()]
    return UPN_LETTERS[sum(v * w for v, w in zip(values, range(2, 14))) % 23]


def upn_problem(text: str) -> str | None:
    """None for a valid unique pupil number; else 'shape' or 'check letter'."""
    upn = text.strip().upper()
    if not _UPN.fullmatch(upn) or upn[12] in "IOS" or upn[0] in "IOS":
        return "shape"
    return None if upn_check_letter(upn[1:]) == upn[0] else "check letter"
