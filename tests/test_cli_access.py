"""The command line for access: restricting a case and naming people, and subject access packs."""
from __future__ import annotations

import json

from store.demo import FORM_EXAMPLES


def setup(cli, tmp_path, children=1):
    assert cli("init")[0] == 0
    for username, role in (("co", "contact_officer"), ("ada", "admin"), ("tm", "team_manager"),
                           ("sw", "social_worker"), ("ig", "information_governance")):
        assert cli("users", "add", username, "--name", username.upper(), "--role", role)[0] == 0
    contact = dict(FORM_EXAMPLES["contact.json"], received_on="2026-11-20")
    contact["children"] = [contact["children"][0]] * children
    path = tmp_path / "contact.json"
    path.write_text(json.dumps(contact))
    code, _out, err = cli("contact", path, "--as", "co")
    assert code == 0, err
    return contact


def test_restrict_name_remove_and_lift(cli, tmp_path):
    setup(cli, tmp_path)
    code, _out, err = cli("restrict", "C000001", "--as", "sw", "--reason", "x", "--name", "tm")
    assert code == 2 and err.startswith("error: sw may not restrict case 1") and "\n" == err[-1] and err.count("\n") == 1
    code, _out, err = cli("restrict", "1", "--as", "ada", "--name", "tm")
    assert code == 2 and "Enter the reason" in err
    code, out, err = cli("restrict", "1", "--as", "ada", "--reason", "Child related to staff", "--name", "tm")
    assert code == 0 and out.strip() == "case 1 is restricted; named: tm", err
    code, out, _ = cli("restrict", "1", "--as", "ada", "--reason", "Worker", "--name", "sw")
    assert code == 0 and out.strip() == "case 1 is restricted; named: sw, tm"
    code, out, _ = cli("restrict", "1", "--as", "tm", "--remove", "sw")
    assert code == 0 and out.strip() == "case 1 is restricted; named: tm"
    code, _out, err = cli("restrict", "1", "--as", "ada", "--reason", "x", "--name", "nobody")
    assert code == 2 and "there is no user 'nobody'" in err
    code, _out, _err = cli("unrestrict", "1", "--as", "ada", "--reason", "Lifted")
    assert code == 0
    code, _out, err = cli("unrestrict", "1", "--as", "ada", "--reason", "Again")
    assert code == 2 and "is not restricted" in err
    code, out, _ = cli("audit", "show", "--case", "1")
    assert out.count(" restriction 1") == 5  # restricted, named tm, named sw, removed sw, lifted


def test_sar_by_id_by_name_and_refusals(cli, tmp_path):
    contact = setup(cli, tmp_path, children=1)
    child = contact["children"][0]
    name = f"{child['given_name']} {child['family_name']}"
    target = tmp_path / "pack.json"
    code, _out, err = cli("sar", "--name", name, "--born", child["date_of_birth"], "--as", "ig", "--out", target)
    assert code == 0 and "written to" in err
    person = json.loads(target.read_text())["subject"]["person_id"]
    code, out, err = cli("sar", str(person), "--as", "ig")
    assert code == 0, err
    pack = json.loads(out)
    assert pack["subject"]["given_name"] == child["given_name"] and pack["cases"][0]["reference"] == "C000001"
    assert pack["cases"][0]["contact"]["recorded"]["referrer"] == {"redacted": True, "reason": "third party: referrer"}
    assert contact["referrer"]["name"] not in out
    code, _out, err = cli("sar", "1", "--as", "ada")
    assert code == 2 and err == "error: ada may not produce subject access packs (information governance only)\n"
    code, _out, err = cli("sar", "--name", "Nobody Known", "--born", "2001-01-01", "--as", "ig")
    assert code == 2 and "no one called Nobody Known" in err
    code, out, _ = cli("audit", "show", "--case", "1")
    assert out.count(" export ") == 2  # each pack produced is in the case's audit


def test_sar_says_when_a_name_is_ambiguous(cli, tmp_path):
    contact = setup(cli, tmp_path, children=1)
    again = dict(contact, received_on="2026-11-21")
    again["children"] = [dict(contact["children"][0], given_name=contact["children"][0]["given_name"] + " Jo")]
    path = tmp_path / "again.json"
    path.write_text(json.dumps(again))
    assert cli("contact", path, "--as", "co")[0] == 0
    child = contact["children"][0]
    code, _out, err = cli("sar", "--name", child["given_name"], "--born", child["date_of_birth"], "--as", "ig")
    assert code == 2 and "2 people called" in err and "Give the person id" in err and err.count("\n") == 1


def test_allocate_from_the_command_line(cli, tmp_path):
    setup(cli, tmp_path)
    assert cli("users", "add", "cm", "--role", "cads_manager", "--team", "CADS")[0] == 0
    assert cli("users", "add", "sw2", "--role", "social_worker", "--team", "North")[0] == 0
    code, _out, err = cli("allocate", "1", "--to", "sw", "--as", "cm")
    assert code == 2 and "is not a social worker cm can allocate to" in err  # sw has no team
    code, out, err = cli("allocate", "C000001", "--to", "sw2", "--as", "cm")
    assert code == 0 and out.strip() == "case C000001 is allocated to sw2 (North)", err
    code, _out, err = cli("allocate", "1", "--to", "sw2", "--as", "tm")
    assert code == 2 and "tm may not allocate case 1" in err  # a team manager of no team cannot see North's case
