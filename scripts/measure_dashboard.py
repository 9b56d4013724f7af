"""Measure the timeliness dashboard with many cases (not a test: run it by hand).

    .venv/bin/python scripts/measure_dashboard.py --cases 100000 [--database URL]

Bulk-inserts synthetic cases (statutory dates over three years, five teams, review conferences)
straight into a fresh database, then times the whole dashboard page as a signed-in manager sees
it (the seven grouped queries and the rendering) and prints the median and worst of the runs.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import FixedClock, WorkingDayCalendar  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
TEAMS = ["North locality", "South locality", "East locality", "West locality", "City locality"]


def seed(count: int, rng: random.Random) -> None:
    """``count`` cases with realistic statutory dates, inserted in batches."""
    from store.db import database
    from store.models import Case, Conference, Contact, DiagramVersion, Person, Team, User
    calendar = WorkingDayCalendar()
    version = DiagramVersion.select().first().version
    teams = [Team.get_or_create(name=name)[0] for name in TEAMS]
    workers = [User.create(username=f"sw.bench{i}", full_name=f"Worker {i}", team=teams[i % len(teams)],
                           created_at=NOW) for i in range(25)]
    first_day = date(2023, 12, 1)
    batch = 2000
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with database.atomic():
            Person.insert_many([dict(kind="child", family_name=f"Bench{start + i}", created_at=NOW, details={})
                                for i in range(size)]).execute()
            people = [p.id for p in Person.select(Person.id).order_by(Person.id.desc()).limit(size)][::-1]
            Contact.insert_many([dict(received_on=first_day, recorded_at=NOW, recorded_by="bench",
                                      channel="professional_line", payload={}) for _ in range(size)]).execute()
            contacts = [c.id for c in Contact.select(Contact.id).order_by(Contact.id.desc()).limit(size)][::-1]
            rows = []
            for i in range(size):
                referral = first_day + timedelta(days=rng.randrange(1080))
                worker = rng.choice(workers)
                row = dict(child=people[i if rng.random() > 0.1 else max(0, i - 1)], contact=contacts[i],
                           sibling_group=f"b{start + i}", status="closed", stage="Closed", diagram_version=version,
                           team=worker.team_id,
                           created_at=NOW, updated_at=NOW, referral_date=referral, allocated_worker=worker.id,
                           re_referral=rng.random() < 0.2, cads_decision_due=calendar.add_working_days(referral, 1),
                           cads_decision_on=referral + timedelta(days=rng.choice([0, 0, 0, 1, 1, 3])),
                           cads_decision=rng.choice(["nfa", "advice", "assessment", "assessment", "strategy_discussion"]))
                if row["cads_decision"] in ("assessment", "strategy_discussion"):
                    row.update(assessment_started_on=referral + timedelta(days=3),
                               assessment_due=calendar.add_working_days(referral, 45),
                               assessment_authorised_on=referral + timedelta(days=rng.randrange(20, 80)))
                if row["cads_decision"] == "strategy_discussion":
                    held = referral + timedelta(days=1)
                    due = calendar.add_working_days(held, 15)
                    plan_start = held + timedelta(days=rng.randrange(10, 30))
                    row.update(initiating_strategy_discussion_on=held, last_strategy_discussion_on=held,
                               s47_started_on=held, icpc_due=due, icpc_held_on=plan_start, icpc_outcome="cp_plan",
                               cp_plan_started_on=plan_start, initial_category="NEG", latest_category="NEG",
                               cp_plan_ended_on=plan_start + timedelta(days=rng.randrange(90, 900)))
                rows.append(row)
            Case.insert_many(rows).execute()
            ids = [c.id for c in Case.select(Case.id).order_by(Case.id.desc()).limit(size)]
            reviews = [dict(case=case_id, kind="review", status="held", due=first_day + timedelta(days=d),
                            held_on=first_day + timedelta(days=d + rng.choice([-5, -1, 0, 2])))
                       for case_id in ids[: size // 6] for d in [rng.randrange(1080)]]
            Conference.insert_many(reviews).execute()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/dashboard.db"
    from store.users import add_user
    from webui.app import create_app
    clock = FixedClock(NOW)
    app = create_app({"DATABASE_URL": url, "CLOCK": clock, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    context = app.extensions["safeguarding"]
    with app.app_context():
        context.db.connect(reuse_if_open=True)
        context.service.current_diagrams()
        from store.models import Case, User
        if User.get_or_none(User.username == "tm.bench") is None:  # a database seeded before is measured again
            add_user("tm.bench", "Bench Manager", ["team_manager"], NOW, password="bench-password-123", team=None)
            started = time.perf_counter()
            seed(args.cases, random.Random(7))
            print(f"seeded {args.cases} cases in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        print(f"{Case.select().count()} cases")
        from store.db import is_postgres
        context.db.close()
        context.db.connect()
        if is_postgres():  # after a bulk load: the visibility map index-only scans rely on, and statistics
            context.db.execute_sql('VACUUM ANALYZE "case"')
            context.db.execute_sql("VACUUM ANALYZE conference")
        else:
            context.db.execute_sql("ANALYZE")
        context.db.close()
    client = app.test_client()
    assert client.post("/login", data={"username": "tm.bench", "password": "bench-password-123"}).status_code == 302
    samples, cpu = [], []
    for _ in range(args.runs + 2):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/dashboards/timeliness")
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, response.status_code
    samples, cpu = samples[2:], cpu[2:]  # the first requests warm caches
    # On a shared machine wall time includes waiting for a core; this process's CPU time does not
    # (it excludes a PostgreSQL server's own work, which the wall time includes).
    print(f"dashboard page, {args.runs} runs: median {statistics.median(samples) * 1000:.0f} ms, "
          f"best {min(samples) * 1000:.0f} ms, worst {max(samples) * 1000:.0f} ms; "
          f"median CPU time of this process {statistics.median(cpu) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
