"""The case page's chronology: when each thing happened and when it was recorded, in people's words."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timezone

from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Task

TODAY = date(2026, 12, 14)


def chronology_rows(page: str) -> list[dict[str, str]]:
    """The chronology table's rows as {column: text}, in the page's order."""
    section = page.split('id="chronology"', 1)[1].split("</table>", 1)[0]
    headers = [html.unescape(h) for h in re.findall(r'<th scope="col" class="govuk-table__header">(.*?)</th>', section)]
    assert headers == ["Happened", "Recorded", "Who", "What"]
    rows = []
    for row in re.findall(r"<tr class=\"govuk-table__row\" data-kind=\"[a-z_]+\">(.*?)</tr>", section, re.S):
        cells = [html.unescape(c.strip()) for c in re.findall(r"<td [^>]*>(.*?)</td>", row, re.S)]
        rows.append(dict(zip(headers, cells)))
    return rows


def complete(context, clock, case, bpmn_id, username, overrides, recorded: date, happened: date):
    """Complete ``bpmn_id`` on ``recorded`` (10:00) with a form saying it happened on ``happened``."""
    clock.set(datetime(recorded.year, recorded.month, recorded.day, 10, 0, tzinfo=timezone.utc))
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, happened, context.service.engine.calendar)
    return context.service.complete_task(task.id, username, form)


def test_the_chronology_shows_when_things_happened_and_were_recorded(client, auth, web_app, web_clock, db):
    from store.allocation import allocate_case
    users = web_app.config["USERS_BY_ROLE"]
    nfa = next(s for s in SCENARIOS if s.name == "nfa")
    [case] = db.service.record_contact(contact_payload(nfa, TODAY), users["contact_officer"])
    web_clock.set(datetime(2026, 12, 16, 10, 0, tzinfo=timezone.utc))  # the decision of the 15th, typed in on the 16th
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "cads_decision"))
    form = build_form(task.form_name, {"decision": "assessment", "rag": "green"}, date(2026, 12, 15),
                      db.service.engine.calendar)
    db.service.complete_task(task.id, users["cads_social_worker"], form)
    complete(db, web_clock, case, "feedback_to_referrer", users["cads_social_worker"], {}, date(2026, 12, 17),
             date(2026, 12, 17))
    complete(db, web_clock, case, "assessment", users["social_worker"], {"outcome": "nfa"}, date(2026, 12, 18),
             date(2026, 12, 16))  # authorised on the 16th, typed in after the feedback of the 17th
    allocate_case(case.id, "sw.omar", "tm.claire", datetime(2027, 6, 1, 8, 0, tzinfo=timezone.utc))

    auth.login_as("team_manager")
    rows = chronology_rows(client.get(f"/cases/{case.id}").get_data(as_text=True))

    by_what = {r["What"]: r for r in rows}
    decision = by_what["CADS decision: Child and family assessment (section 17, child in need); "
                       "Urgency (RAG rating): Green: low risk"]
    assert (decision["Happened"], decision["Recorded"], decision["Who"]) == (
        "15 December 2026", "16 Dec 2026 10:00", "Sam CADS")
    assert by_what["CADS decision due by 15 December 2026"]["Who"] == "System"
    opened = by_what["Task opened: Assessment for the social worker (after the CADS decision)"]
    assert (opened["Happened"], opened["Who"]) == ("16 December 2026", "System")
    started = by_what["Case started from the contact"]
    assert (started["Happened"], started["Recorded"], started["Who"]) == ("14 December 2026", "14 Dec 2026 09:00",
                                                                           "Chris Contact")
    allocated = next(r for r in rows if r["What"].startswith("Allocated to Omar Hussain"))
    assert allocated["Recorded"] == "1 Jun 2027 09:00", "recorded times are UK time (British Summer Time here)"
    assert not any(r["What"].startswith("Deadline for") or re.search(r"\d{4}-\d\d-\d\d", r["What"]) for r in rows)

    happened = [datetime.strptime(r["Happened"], "%d %B %Y").date() for r in rows]
    assert happened == sorted(happened)
    assessment = by_what["Assessment: No further action"]
    assert (assessment["Happened"], assessment["Recorded"]) == ("16 December 2026", "18 Dec 2026 10:00")
    assert rows.index(assessment) < rows.index(by_what["Feedback to referrer recorded"]), "in the order they happened"
    assert rows.index(decision) < rows.index(opened), "the decision of the 15th comes before what it opened on the 16th"


def test_the_case_command_prints_when_things_happened_and_were_recorded(cli, tmp_path):
    import json
    from store.demo import FORM_EXAMPLES
    assert cli("init")[0] == 0
    assert cli("users", "add", "co", "--name", "Chris", "--role", "contact_officer")[0] == 0
    assert cli("users", "add", "cads", "--role", "cads_social_worker")[0] == 0
    contact = dict(FORM_EXAMPLES["contact.json"], received_on="2026-11-19")
    contact["children"] = contact["children"][:1]
    (tmp_path / "contact.json").write_text(json.dumps(contact))
    assert cli("contact", tmp_path / "contact.json", "--as", "co")[0] == 0
    [task] = json.loads(cli("tasks", "--role", "cads_social_worker", "--json")[1])
    (tmp_path / "decision.json").write_text(json.dumps(dict(FORM_EXAMPLES["cads_decision.json"], decision="nfa",
                                                            decided_on="2026-11-20")))
    assert cli("complete", task["id"], "--as", "cads", "--data", tmp_path / "decision.json")[0] == 0
    code, out, _ = cli("case", "1")
    assert code == 0
    assert re.search(r"^  happened +recorded \(UTC\) +who +what$", out, re.M)
    assert re.search(r"^  2026-11-19  \d{4}-\d\d-\d\d \d\d:\d\d  co +Case started from the contact$", out, re.M)
    assert re.search(r"^  2026-11-20  \d{4}-\d\d-\d\d \d\d:\d\d  cads +CADS decision: No further action;", out, re.M)
    assert re.search(r"^  \d{4}-\d\d-\d\d  .* system +Task opened: CADS decision for a CADS social worker "
                     r"\(after the contact was recorded\)$", out, re.M)
    entries = json.loads(cli("case", "1", "--json")[1])["chronology"]
    assert [e["happened_on"] for e in entries] == sorted(e["happened_on"] for e in entries)
