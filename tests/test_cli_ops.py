"""Bad input files on the command line: one clear line and exit 2, on either database."""
from __future__ import annotations

import json
from datetime import date

import pytest

from store.demo import SCENARIOS, contact_payload


def _contact(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


NUL_NAME = contact_payload(SCENARIOS[0], date(2026, 11, 2), 2)
NUL_NAME["children"][0]["given_name"] = "Ann\x00ie"
BAD_FILES = {
    "nul in a name": (json.dumps(NUL_NAME).encode(), "contains a NUL character"),
    "invalid utf-8": (b'{"channel": "\xff\xfe"}', "is not UTF-8 text"),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "not json": (b"{channel: phone}", "is not valid JSON"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_contact_refuses_bad_files_in_one_line(cli, tmp_path, kind):
    data, message = BAD_FILES[kind]
    assert cli("init")[0] == 0
    assert cli("users", "add", "co", "--name", "Chris", "--role", "contact_officer")[0] == 0
    code, out, err = cli("contact", _contact(tmp_path, "c.json", data), "--as", "co")
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    code, out, _ = cli("case", "1")
    assert code == 2  # nothing was recorded
