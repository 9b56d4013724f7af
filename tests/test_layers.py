"""The import contracts of setup.cfg hold for the code, and lint-imports refuses code that breaks one."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("engine", "store", "webui", "bench")


def _lint(where: Path) -> subprocess.CompletedProcess:
    """lint-imports on the code at ``where``, its report without colours."""
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(where / "setup.cfg")], cwd=where,
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)})
    result.stdout = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    return result


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory) -> Path:
    """The packages' Python files and setup.cfg, copied where a test may break them."""
    where = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            if "node_modules" in source.parts:
                continue
            target = where / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(ROOT / "setup.cfg", where / "setup.cfg")
    return where


def test_the_code_keeps_every_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize("module, source, contract", [
    ("engine/_probe.py", "import store.models\n", "engine/ knows the process, not storage or the web"),
    ("engine/_probe.py", "import flask\n", "engine/ knows the process, not storage or the web"),
    ("store/_probe.py", "from webui import context\n", "store/ knows peewee, not the web"),
    ("webui/_probe.py", "import bench.seed\n", "bench/ is imported by nothing but the bench command"),
    ("store/_probe.py", "from store import cases\n", "no import cycles between the modules of a package"),
], ids=["engine-store", "engine-flask", "store-webui", "bench", "cycle"])
def test_lint_imports_refuses_a_broken_contract(copy_of_the_code, module, source, contract):
    probe = copy_of_the_code / module
    if module == "store/_probe.py" and "cases" in source:
        # a cycle: the probe imports cases, and cases is made to import the probe back
        cases = copy_of_the_code / "store" / "cases.py"
        original = cases.read_text()
        cases.write_text(original + "\nfrom . import _probe  # noqa\n")
    else:
        original = None
    probe.write_text(source)
    try:
        result = _lint(copy_of_the_code)
    finally:
        probe.unlink()
        if original is not None:
            (copy_of_the_code / "store" / "cases.py").write_text(original)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
