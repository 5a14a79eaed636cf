"""Stdio judging in every language: reference solutions pass, compile errors and wrong programs
get their verdicts, the code block of the asked language is the one judged, and the image
variants (tags, toolchain layer, doctor) say which languages they hold.

The docker-marked tests build (once, then cached) the image with every toolchain and swap it in
as the process-wide pool for this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sppo_gym.sandbox import SandboxPool, get_pool, set_pool
from sppo_gym.sandbox import languages as image_languages
from sppo_gym.sandbox.image import ensure_image, image_tag
from sppo_gym.verifiers.code.languages import LANGUAGES, get_language, java_main_class
from sppo_gym.verifiers.code.stdio import StdioVerifier, extract_program

DATA = Path(__file__).resolve().parents[1] / "envs" / "data" / "stdio_languages.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
NAMES = sorted(LANGUAGES)
FENCE = {"python": "python", "cpp": "cpp", "java": "java", "javascript": "javascript", "go": "go", "rust": "rust"}
SUM_TWO = next(r for r in ROWS if r["task_id"] == "sppo/io/sum_two")


def fenced(lang: str, code: str) -> str:
    return f"Here is my program.\n\n```{FENCE[lang]}\n{code}```\n"


# ---- host side: no sandbox -----------------------------------------------------------------
def test_language_sets_and_tags_round_trip():
    assert image_languages.parse_languages("") == ("python",)
    assert image_languages.parse_languages("js, C++,go") == ("cpp", "go", "javascript", "python")
    assert image_languages.parse_languages("all") == tuple(sorted(image_languages.TOOLCHAINS))
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        image_languages.parse_languages("cobol")
    langs = ("cpp", "java", "python")
    tag = image_tag(langs)
    assert tag.endswith("-cpp-java") and image_languages.languages_from_tag(tag) == langs
    assert image_tag(("python",)) == image_tag(()) and "-" not in image_tag(("python",)).split(":")[1]
    assert image_languages.runs_native_code(tag) and not image_languages.runs_native_code(image_tag(()))
    assert image_languages.debian_packages(("cpp", "rust")) == ("g++", "rustc")
    # the language set is part of the hash, not only a suffix: a Python-only image never passes for another
    assert tag.split(":")[1][:12] != image_tag(()).split(":")[1][:12]


def test_every_judged_language_has_a_toolchain_and_the_same_names():
    assert set(LANGUAGES) == set(image_languages.TOOLCHAINS)
    for name in NAMES:
        assert get_language(name).name == name
    assert get_language("c++").name == "cpp" and get_language("JS").name == "javascript"


def test_bundled_set_has_a_solution_in_every_language():
    assert len(ROWS) >= 8
    for row in ROWS:
        assert set(row["solutions"]) == set(NAMES), row["task_id"]


def test_java_main_class_is_the_public_class():
    assert java_main_class("import x;\npublic final class Solver {\n}") == "Solver"
    assert java_main_class("class Helper {}\nclass Main {}") == "Main"
    assert get_language("java").source_name("public class A {}") == "A.java"


def test_the_block_of_the_asked_language_is_judged():
    cpp = get_language("cpp")
    resp = "```python\nprint(1)\n```\n```cpp\nint main(){}\n```\n```text\nnotes\n```"
    assert extract_program(resp, cpp) == ("int main(){}\n", None)
    assert extract_program(resp, get_language("python")) == ("print(1)\n", None)
    assert extract_program("```\nint main(){}\n```", cpp) == ("int main(){}\n", None)  # bare block counts
    assert extract_program("```py\nprint(1)\n```", cpp) == ("", "python")
    assert extract_program("int main(){}", cpp) == ("int main(){}", None)  # no block: everything


def test_wrong_language_is_a_verdict_not_a_crash():
    v = StdioVerifier(language="cpp")
    s = v.verify(fenced("python", SUM_TWO["solutions"]["python"]), SUM_TWO)
    assert (s.verdict, s.reward) == ("wrong_language", 0.0)
    assert "python" in s.detail and "cpp" in s.detail
    # the row's language wins over the verifier's
    s = StdioVerifier(language="python").verify(fenced("rust", "fn main(){}\n"), {**SUM_TWO, "language": "go"})
    assert s.verdict == "wrong_language" and "go" in s.detail


def test_unknown_language_is_refused_early():
    with pytest.raises(ValueError, match="unknown language"):
        StdioVerifier(language="cobol")


# ---- in the sandbox ------------------------------------------------------------------------
@contextmanager
def installed(pool: SandboxPool) -> Iterator[SandboxPool]:
    """``pool`` as the process-wide pool (what verifiers use) for the duration, then the old one."""
    old = get_pool()
    set_pool(pool, close_old=False)
    try:
        yield pool
    finally:
        set_pool(old, close_old=False)
        pool.close()


@pytest.fixture(scope="module")
def lang_tag() -> str:
    """The image with every toolchain (built once, then cached)."""
    return ensure_image(languages=image_languages.LANGUAGES, quiet=True)


@pytest.fixture(scope="module")
def lang_pool(lang_tag):
    with installed(SandboxPool(size=2, image=lang_tag)) as pool:
        yield pool


@pytest.mark.docker
def test_reference_solutions_pass_in_every_language(lang_pool):
    items = [(fenced(lang, row["solutions"][lang]), {**row, "language": lang}) for row in ROWS for lang in NAMES]
    scores = StdioVerifier(timeout_s=30, compile_timeout_s=120).verify_batch(items)
    bad = [(p["task_id"], p["language"], s.verdict, s.detail[:300]) for (_, p), s in zip(items, scores, strict=True)
           if not s.passed]
    assert not bad, bad
    assert all(s.reward == 1.0 and s.extra["language"] == p["language"] for (_, p), s in zip(items, scores, strict=True))


BROKEN = {
    "cpp": ("int main() { return undefined_name; }\n", "compile_error", "undefined_name"),
    "java": ("public class Main { public static void main(String[] a) { int x = \"s\"; } }\n", "compile_error",
             "incompatible types"),
    "javascript": ("const x = ;\n", "syntax_error", "SyntaxError"),
    "go": ("package main\nfunc main() { undefinedName() }\n", "compile_error", "undefined"),
    "rust": ("fn main() { let x: u32 = \"s\"; }\n", "compile_error", "mismatched types"),
    "python": ("def f(:\n", "syntax_error", "SyntaxError"),
}
WRONG = {  # compiles, runs, prints a wrong sum
    "cpp": "#include <cstdio>\nint main() { std::puts(\"42\"); }\n",
    "java": "public class Main { public static void main(String[] a) { System.out.println(42); } }\n",
    "javascript": "console.log(42);\n",
    "go": "package main\nimport \"fmt\"\nfunc main() { fmt.Println(42) }\n",
    "rust": "fn main() { println!(\"42\"); }\n",
    "python": "print(42)\n",
}


@pytest.mark.docker
def test_compile_errors_quote_the_compiler_and_wrong_programs_fail(lang_pool):
    items = [(fenced(lang, BROKEN[lang][0]), {**SUM_TWO, "language": lang}) for lang in NAMES]
    items += [(fenced(lang, WRONG[lang]), {**SUM_TWO, "language": lang}) for lang in NAMES]
    scores = StdioVerifier(timeout_s=30, compile_timeout_s=120).verify_batch(items)
    for lang, s in zip(NAMES, scores[: len(NAMES)], strict=True):
        _, verdict, quote = BROKEN[lang]
        assert (s.verdict, s.reward) == (verdict, 0.0), (lang, s)
        assert quote in s.detail, (lang, s.detail)
    for lang, s in zip(NAMES, scores[len(NAMES):], strict=True):
        assert (s.verdict, s.reward) == ("wrong_output", 0.0), (lang, s)


@pytest.mark.docker
def test_a_python_only_image_says_how_to_get_the_toolchain(lang_pool):
    """Without the toolchain the image is at fault, not the answer: sandbox_error with the fix."""
    with installed(SandboxPool(size=1, image=ensure_image(languages=("python",), quiet=True))):
        s = StdioVerifier(language="rust").verify(fenced("rust", SUM_TWO["solutions"]["rust"]), SUM_TWO)
    assert s.verdict == "sandbox_error", s
    assert "sppo-gym sandbox build --languages rust" in s.detail


@pytest.mark.docker
def test_doctor_reports_the_languages_of_the_image(lang_tag):
    from sppo_gym.sandbox.doctor import check_languages

    check = check_languages(lang_tag)
    assert check.level == "OK", check.render()
    for lang, word in (("cpp", "g++"), ("go", "go1.19"), ("java", "javac 17"), ("javascript", "v18"),
                       ("rust", "rustc 1.63"), ("python", "Python 3.11")):
        assert f"{lang}: " in check.detail and word in check.detail, (word, check.detail)


# ---- the env -------------------------------------------------------------------------------
def test_env_prompt_names_the_language_and_info_holds_its_reference():
    import gymnasium as gym
    import sppo_gym.envs  # noqa: F401

    env = gym.make("sppo_gym/StdioCode-v0", language="cpp")
    prompt, info = env.reset(options={"task_id": "sppo/io/sum_two"})
    assert "C++17" in prompt and "```cpp" in prompt and "Python" not in prompt
    assert info["answer"] == SUM_TWO["solutions"]["cpp"]
    py = gym.make("sppo_gym/StdioCode-v0")
    prompt, info = py.reset(options={"index": 0})
    assert "Python 3" in prompt and "```python" in prompt and len(py.unwrapped.source) == 21
    with pytest.raises(ValueError, match="unknown language"):
        gym.make("sppo_gym/StdioCode-v0", language="cobol")


def test_env_row_language_overrides_the_env_default():
    import gymnasium as gym
    import sppo_gym.envs  # noqa: F401

    rows = [{**SUM_TWO, "task_id": "go/sum_two", "language": "go"}, SUM_TWO]
    env = gym.make("sppo_gym/StdioCode-v0", data=rows, language="rust")
    first, info = env.reset(options={"index": 0})
    assert "Go 1.19" in first and info["answer"] == SUM_TWO["solutions"]["go"]
    second, info = env.reset(options={"index": 1})
    assert "Rust" in second and info["answer"] == SUM_TWO["solutions"]["rust"]


@pytest.mark.docker
def test_env_step_judges_the_language(lang_pool):
    import gymnasium as gym
    import sppo_gym.envs  # noqa: F401

    env = gym.make("sppo_gym/StdioCode-v0", language="go", verifier_options={"compile_timeout_s": 120})
    _, info = env.reset(options={"task_id": "sppo/io/fizzbuzz"})
    _, reward, terminated, _, info = env.step(fenced("go", info["answer"]))
    assert (reward, info["verdict"], terminated) == (1.0, "passed", True), info
    env.reset(options={"task_id": "sppo/io/fizzbuzz"})
    _, reward, _, _, info = env.step(fenced("python", ROWS[0]["solutions"]["python"]))
    assert (reward, info["verdict"]) == (0.0, "wrong_language"), info


@pytest.mark.docker
def test_audit_no_work_programs_compile_and_run_in_every_language(lang_pool):
    """The audit's suspects for non-Python prompts are real programs: each compiles and runs, so
    a zero reward for them means the judge did not pay no work, not that the suspect was broken."""
    from sppo_gym.trainer.evaluation import audit_programs

    items = []
    for lang in audit_programs.NO_WORK:
        prompt = f"x\n\nGive the whole program in a single ```{lang} code block."
        for kind, value in (("nothing", ""), ("copy_input", ""), ("print", "YES")):
            items.append((audit_programs.program(prompt, kind, value), {**SUM_TWO, "language": lang}))
    scores = StdioVerifier(timeout_s=30, compile_timeout_s=120).verify_batch(items)
    assert [(p["language"], s.verdict) for (_, p), s in zip(items, scores, strict=True) if s.verdict != "wrong_output"] == []
    assert audit_programs.program("a single ```python code block", "nothing") is None


@pytest.mark.docker
def test_toolchain_image_is_current_not_stale(lang_tag):
    """`sandbox build --prune` keeps the toolchain image of the current sources beside the Python one."""
    from sppo_gym.sandbox.image import current_tags, get_client, stale_tags

    client = get_client()
    assert lang_tag in current_tags(client) and lang_tag not in stale_tags(client)
    assert client.images.get(lang_tag).labels["sppo-gym.sandbox.languages"] == ",".join(image_languages.LANGUAGES)


def test_precompiled_header_flags_match_the_compile_command():
    from sppo_gym.sandbox.image import image_dir
    from sppo_gym.verifiers.code.languages import CPP_STD_FLAGS, PCH_DIR

    dockerfile = (image_dir() / "Dockerfile").read_text()
    assert f"g++ {' '.join(CPP_STD_FLAGS)} -x c++-header" in dockerfile and f"{PCH_DIR}/bits/stdc++.h.gch" in dockerfile
    argv = LANGUAGES["cpp"].compile
    assert tuple(argv[1:1 + len(CPP_STD_FLAGS)]) == CPP_STD_FLAGS and argv[argv.index("-I") + 1] == PCH_DIR


@pytest.mark.docker
def test_cpp_compiles_use_the_precompiled_header(lang_tag):
    """g++ -H marks a precompiled header it loads with '!': the judge's flags must load it."""
    from sppo_gym.sandbox import Job, Limits

    argv = [*LANGUAGES["cpp"].argv(LANGUAGES["cpp"].compile, ""), "-H"]
    code = ("import subprocess\nopen('prog.cpp', 'w').write('#include <bits/stdc++.h>\\nint main() {}\\n')\n"
            f"p = subprocess.run({argv!r}, capture_output=True, text=True)\nprint(p.returncode)\nprint(p.stderr)\n")
    with SandboxPool(size=1, image=lang_tag) as pool:
        res = pool.run(Job("sppo_gym.sandbox.selftest:run_python", {"code": code}, Limits(wall_s=120.0)))
    assert res.ok, res
    out = res.value["stdout"]
    assert out.startswith("0\n") and "! /opt/sppo-pch/bits/stdc++.h.gch" in out, out[:2000]


@pytest.mark.docker
def test_register_task_stdio_in_another_language(lang_pool):
    """register_task(..., verifier="stdio"): the language comes from verifier_options or the row."""
    import gymnasium as gym
    from sppo_gym.envs import register_task

    rows = [{"id": "sum", "q": SUM_TWO["problem"], "tests": SUM_TWO["tests"]},
            {"id": "sum-go", "q": SUM_TWO["problem"], "tests": SUM_TWO["tests"], "language": "go"}]
    env_id = register_task("l21/SumRust-v0", problems=rows, verifier="stdio", id_field="id",
                           prompt="{q}\nAnswer in a ```rust block.", verifier_options={"language": "rust",
                                                                                        "compile_timeout_s": 120})
    env = gym.make(env_id)
    env.reset(options={"task_id": "sum"})
    _, reward, _, _, info = env.step(fenced("rust", SUM_TWO["solutions"]["rust"]))
    assert (reward, info["verdict"]) == (1.0, "passed"), info
    env.reset(options={"task_id": "sum-go"})
    _, reward, _, _, info = env.step(fenced("go", SUM_TWO["solutions"]["go"]))
    assert (reward, info["verdict"]) == (1.0, "passed"), info
