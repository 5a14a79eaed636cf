"""Agreement of the ``math`` verifier with Math-Verify's own regression test cases.

Math-Verify (HuggingFace's math answer checker) keeps a regression suite of (gold, prediction,
expected) triples in its ``tests/``. This benchmark asks how often
``sppo_gym.verifiers.math.judge.grade(prediction, gold)`` reaches the same verdict as that suite:
a case agrees when ``reward == 1.0`` exactly where the suite expects a match. Agreement is not
correctness: where this verifier's rules differ on purpose (an unevaluated ``(9+1)`` for ``10``
earns no reward here, Math-Verify accepts it) a disagreement is the intended outcome; ``--show``
lists each one with our verdict and its reason.

Where the cases come from: the source distribution (sdist) on PyPI of the *installed*
math-verify version ships its ``tests/``. It is fetched with ``pip download --no-deps
--no-binary :all: math-verify==<installed>`` into ``~/.cache/sppo-gym/math-verify-sdist/``
(or read from ``--sdist PATH``), its ``tests/`` is extracted to a temporary directory and the
test modules are imported from there. No case is copied into this repository.

Which cases: the suite's test functions call a helper ``compare_strings(gold, pred,
match_types, precision, strict, allow_set_relation_comp)``. Every parametrised test of the
modules that use that helper is run once per parameter set with the helper replaced by a
recorder (which answers the expected value, so the test's assertion passes and nothing of
Math-Verify's checking runs); each recorded call is a case. Kept are the cases of Math-Verify's default
configuration: LaTeX extraction on (``match_types`` other than ``["expr"]`` alone), precision 6,
``strict=True``, ``allow_set_relation_comp=False``; duplicates of (gold, pred, expected) count
once. Tests that call ``verify(parse(...))`` directly (``test_yujianll``, ``test_string_extraction``)
or test other options are not cases. Everything runs in-process: no sandbox, no Docker. Usage::

    python benchmarks/math_peer_suite.py [--sdist PATH] [--show] [--out bench-out/math_peer_suite.json]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from sppo_gym.verifiers.math.judge import grade

CACHE = Path.home() / ".cache" / "sppo-gym" / "math-verify-sdist"
HELPER = "compare_strings"


def fetch_sdist(version: str) -> Path:
    """The sdist of math-verify ``version``, downloaded once into the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name = f"math_verify-{version}.tar.gz"
    if not (CACHE / name).exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"math-verify=={version}", "-d", str(CACHE)],
            check=True,
        )
    if not (CACHE / name).exists():
        raise SystemExit(f"pip download gave no {name} in {CACHE}")
    return CACHE / name


def extract_tests(sdist: Path, dest: Path) -> Path:
    """Extract the sdist's ``tests/`` under ``dest``; returns the tests directory."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        if not members:
            raise SystemExit(f"{sdist} has no tests/ directory")
        tar.extractall(dest, members=members, filter="data")
    tests = dest / members[0].name.split("/")[0] / "tests"
    (tests / "__init__.py").touch()  # the modules import each other as ``tests.test_all``
    return tests


def import_tests_package(tests: Path) -> None:
    """Register ``tests`` as the sdist's test package, whatever else is called ``tests``."""
    for name in [n for n in sys.modules if n == "tests" or n.startswith("tests.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        "tests", tests / "__init__.py", submodule_search_locations=[str(tests)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["tests"] = pkg
    spec.loader.exec_module(pkg)


def collect(tests: Path) -> tuple[list[dict], list[str]]:
    """Every ``compare_strings`` call of every parametrised test (all configurations).

    Returns the cases and the ``module.test[index]`` ids of parameter sets whose test raised
    (their calls are dropped).
    """
    import_tests_package(tests)
    signature = inspect.signature(importlib.import_module("tests.test_all").__dict__[HELPER])
    cases: list[dict] = []
    raised: list[str] = []
    for path in sorted(tests.glob("test_*.py")):
        if HELPER not in path.read_text():
            continue
        mod = importlib.import_module(f"tests.{path.stem}")
        for name, fn in list(vars(mod).items()):
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
            if not name.startswith("test_") or not callable(fn) or not marks:
                continue
            argnames = marks[0].args[0]
            if isinstance(argnames, str):
                argnames = [a.strip() for a in argnames.split(",")]
            for i, values in enumerate(marks[0].args[1]):
                values = getattr(values, "values", values)  # a ``pytest.param(...)``
                if len(argnames) == 1:
                    values = (values,)
                kw = dict(zip(argnames, values, strict=True))
                expected = kw.get("expected", kw.get("result"))
                calls: list[dict] = []

                def recorder(*args, _calls=calls, _expected=expected, **kwargs):
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                    _calls.append(dict(bound.arguments))
                    return _expected

                setattr(mod, HELPER, recorder)
                try:
                    fn(**kw)
                except Exception:
                    raised.append(f"{path.stem}.{name}[{i}]")
                    continue
                for c in calls:
                    cases.append({
                        "test": f"{path.stem}.{name}",
                        "gold": c["gold"],
                        "pred": c["pred"],
                        "expected": int(bool(expected)),
                        "match_types": list(c["match_types"]),
                        "precision": c["precision"],
                        "strict": c["strict"],
                        "allow_set_relation_comp": c["allow_set_relation_comp"],
                    })
    return cases, raised


def default_config(cases: list[dict]) -> list[dict]:
    """The cases of Math-Verify's default configuration, each (gold, pred, expected) once."""
    seen: set[tuple] = set()
    kept = []
    for c in cases:
        key = (c["gold"], c["pred"], c["expected"])
        if (c["match_types"] != ["expr"] and c["precision"] == 6 and c["strict"]
                and not c["allow_set_relation_comp"] and key not in seen):
            seen.add(key)
            kept.append(c)
    return kept


def judge(cases: list[dict]) -> dict:
    """Grade every case with our verifier; agreement overall and per test module."""
    verdicts: Counter = Counter()
    per_module: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_test: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    disagreements = []
    t0 = time.perf_counter()
    for c in cases:
        score = grade(c["pred"], c["gold"])
        verdicts[score["verdict"]] += 1
        ok = int(score["reward"] == 1.0) == c["expected"]
        module = c["test"].split(".")[0]
        per_module[module][0] += ok
        per_module[module][1] += 1
        per_test[c["test"]][0] += ok
        per_test[c["test"]][1] += 1
        if not ok:
            disagreements.append({
                "test": c["test"], "gold": c["gold"], "pred": c["pred"], "expected": c["expected"],
                "verdict": score["verdict"], "detail": score["detail"][:200],
                "extracted": score["extra"].get("extracted"),
            })
    agree = sum(a for a, _ in per_module.values())
    return {
        "agree": agree,
        "n": len(cases),
        "agreement": round(agree / len(cases), 4) if cases else None,
        "per_module": {m: {"agree": a, "n": n} for m, (a, n) in sorted(per_module.items())},
        "per_test": {t: {"agree": a, "n": n} for t, (a, n) in sorted(per_test.items())},
        "verdicts": dict(verdicts),
        "judge_errors": verdicts["judge_error"],
        "seconds": round(time.perf_counter() - t0, 2),
        "disagreements": disagreements,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sdist", type=Path, help="math-verify sdist (.tar.gz); default: pip download "
                    "the installed version into the cache")
    ap.add_argument("--show", action="store_true", help="print every disagreement")
    ap.add_argument("--out", type=Path, help="write the result as JSON here")
    args = ap.parse_args(argv)

    installed = importlib.metadata.version("math-verify")
    sdist = args.sdist or fetch_sdist(installed)
    with tempfile.TemporaryDirectory(prefix="mv-peer-") as tmp:
        all_cases, raised = collect(extract_tests(sdist, Path(tmp)))
    cases = default_config(all_cases)
    result = {
        "math_verify_installed": installed,
        "sdist": sdist.name,
        "sdist_sha256": hashlib.sha256(sdist.read_bytes()).hexdigest(),
        "cases_recorded": len(all_cases),
        "cases_default_config": len(cases),
        "tests_raised": raised,
        **judge(cases),
    }
    print(f"math-verify {installed}; cases from {sdist.name} (sha256 {result['sdist_sha256'][:12]})")
    print(f"recorded {len(all_cases)} compare_strings calls, {len(cases)} distinct with the default "
          f"configuration; {len(raised)} parameter sets raised")
    for module, r in result["per_module"].items():
        print(f"  {module:<22} {r['agree']:>4}/{r['n']:<4} {r['agree'] / r['n']:.3f}")
    print(f"agreement {result['agree']}/{result['n']} = {result['agreement']:.3f}; "
          f"judge_error {result['judge_errors']}; verdicts {result['verdicts']}; {result['seconds']} s")
    if args.show:
        for d in result["disagreements"]:
            print(f"{d['test']}: expected {d['expected']}, got {d['verdict']}\n"
                  f"    gold {d['gold']!r}\n    pred {d['pred']!r}\n"
                  f"    extracted {d['extracted']!r}; {d['detail']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
