"""The geo package imports cleanly in any order: no module leans on another being
imported first, and the parameter helpers and the CQL2 evaluator stay leaves below the
query engine and the registry."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import geo

ROOT = Path(__file__).resolve().parents[1]
GEO = ROOT / "geo"

# Modules that need an optional driver (psycopg) only when a PostGIS URI is given are
# still importable without one, so every module is listed.
MODULES = sorted(m.name for m in pkgutil.walk_packages(geo.__path__, "geo."))


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_geo_module_imports_first_in_a_fresh_interpreter():
    # One interpreter, geo.* and layers forgotten before each module: each is imported
    # as if it were the first thing a program imports (a cycle shows up as an
    # ImportError on a partially initialised module).
    script = (
        "import importlib, sys, traceback\n"
        f"mods = {MODULES!r}\n"
        "bad = []\n"
        "for m in mods:\n"
        "    for k in [k for k in sys.modules if k == 'geo' or k.startswith(('geo.', 'layers'))]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception:\n"
        "        bad.append(m + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(MODULES) > 40


CQL2 = sorted((GEO / "cql2").glob("*.py"))


def test_params_and_cql2_never_import_the_query_engine_or_the_registry():
    assert len(CQL2) > 1  # the package's modules, not a leftover geo/cql2.py
    for path in [GEO / "params.py", *CQL2]:
        imported = _imported_modules(path)
        leaning = sorted(m for m in imported if m.startswith(("geo.query", "geo.registry")))
        assert not leaning, f"{path.relative_to(ROOT)} imports {leaning}"


def test_params_imports_only_errors_i18n_and_crs_from_geo():
    imported = {m for m in _imported_modules(GEO / "params.py") if m.startswith("geo")}
    allowed = {"geo.errors", "geo.i18n", "geo.crs"}
    assert {m for m in imported if not any(m == a or m.startswith(a + ".") for a in allowed)} == set()


def test_query_registry_and_cql2_import_one_another_only_at_the_top():
    # A function-local import of these modules was how the cycle was dodged; with the
    # leaf geo.params there is no cycle left to dodge.
    for path in [GEO / "registry.py", *CQL2, *sorted((GEO / "query").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    ("geo.query", "geo.registry", "geo.cql2", "geo.params")
                ):
                    raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} imports inside {fn.name}")
                if isinstance(node, ast.ImportFrom) and node.module == "geo" and any(
                    a.name in {"query", "registry", "cql2", "params"} for a in node.names
                ):
                    raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} imports inside {fn.name}")


def _imports_inside_functions(path: Path) -> list[tuple[int, str, str]]:
    """(line, function, module) of every ``from geo… import`` inside a function of ``path``."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, fn.name, node.module))
            elif isinstance(node, ast.Import):
                found.extend((node.lineno, fn.name, a.name) for a in node.names)
    return found


def test_patrol_settings_and_target_measures_import_one_another_only_at_the_top():
    # The plan files are found through the leaf geo.plan_files, so the patrol settings
    # no longer reach into geo.targets, and the measures import the patrol modules at
    # the top like any other dependency.
    settings = GEO / "patrols" / "settings.py"
    assert not any(m.startswith("geo.targets") for m in _imported_modules(settings))
    for path, other in [(settings, "geo.targets"), (GEO / "targets" / "measures.py", "geo.patrols")]:
        for line, fn, module in _imports_inside_functions(path):
            assert not module.startswith(other), f"{path.relative_to(ROOT)}:{line} imports {module} inside {fn}"


def test_plan_files_is_a_leaf():
    assert {m for m in _imported_modules(GEO / "plan_files.py") if m.startswith(("geo", "layers"))} == set()
