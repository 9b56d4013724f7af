"""``safeguarding returns``: the Children in Need census, Ofsted's Annex A and the demo collection year."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from engine import EngineError, parse_date
from store.returns import LA_CODE_DEFAULT

from .common import _app

def register(sub) -> None:
    """Add the ``returns`` command group to the ``safeguarding`` command."""
    returns = sub.add_parser("returns", help="statutory returns: CIN census, Annex A").add_subparsers(metavar="RETURN")
    cmd = returns.add_parser("cin", help="the Children in Need census XML for the year ending 31 March YEAR")
    cmd.add_argument("--year", type=int, required=True)
    cmd.add_argument("--la", default=LA_CODE_DEFAULT, help="the local authority's 3-digit code")
    cmd.add_argument("--output", "-o", help="file to write (default: cin_YEAR.xml)")
    cmd.set_defaults(handler=cmd_cin)
    cmd = returns.add_parser("annex-a", help="Ofsted's Annex A lists 1 to 7 as one spreadsheet")
    cmd.add_argument("--from", dest="first", required=True, help="first day (ISO date)")
    cmd.add_argument("--to", dest="last", required=True, help="last day (ISO date)")
    cmd.add_argument("--output", "-o", help="file to write (default: annex_a_FROM_TO.xlsx)")
    cmd.set_defaults(handler=cmd_annex_a)
    cmd = returns.add_parser("demo-year", help="demo cases across the collection year ending 31 March YEAR")
    cmd.add_argument("--year", type=int, required=True)
    cmd.set_defaults(handler=cmd_demo_year)


def check_year(year: int) -> int:
    """The collection year (that of the 31 March it ends on), or refused if implausible."""
    if not 2000 <= year <= 2100:
        raise EngineError(f"--year {year} is not a collection year (the year of the 31 March it ends on)")
    return year


def check_la(code: str) -> str:
    """The local authority's 3-digit code, or refused."""
    if not re.fullmatch(r"[0-9]{3}", code or ""):
        raise EngineError(f"--la {code!r} is not a local authority code (3 digits, for example 926)")
    return code


def cmd_cin(args) -> int:
    """Write the Children in Need census XML, warning on stderr about each gap in the data."""
    from store.returns.cin import build_census, census_xml

    year, la_code = check_year(args.year), check_la(args.la)
    app = _app(args)
    census = build_census(year, la_code)
    path = Path(args.output or f"cin_{year}.xml")
    _write(path, census_xml(census, app.clock.now()))
    for gap in census.gaps:
        print(f"warning: {gap}", file=sys.stderr)
    print(f"{path}: {len(census.children)} children, {census.episode_count} episodes "
          f"(collection year ending {census.reference_date.isoformat()})")
    return 0


def cmd_annex_a(args) -> int:
    """Write Ofsted's Annex A lists for the dates given as one spreadsheet."""
    from store.returns.annexa import annex_a_workbook

    try:
        first, last = parse_date(args.first), parse_date(args.last)
    except ValueError:
        raise EngineError("--from and --to must be ISO dates, for example 2026-04-01") from None
    if first > last:
        raise EngineError("--from must not be after --to")
    _app(args)
    path = Path(args.output or f"annex_a_{first.isoformat()}_{last.isoformat()}.xlsx")
    content, counts = annex_a_workbook(first, last)
    _write(path, content)
    print(f"{path}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return 0


def cmd_demo_year(args) -> int:
    """Drive demo cases across the collection year ending 31 March YEAR."""
    from store.returns.demoyear import run_demo_year

    app = _app(args)
    for line in run_demo_year(app.service, check_year(args.year)):
        print(line)
    return 0


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise EngineError(f"cannot write {path}: {exc.strerror}") from None
