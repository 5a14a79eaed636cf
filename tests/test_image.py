"""The sandbox image: tag hashing and staleness (no engine needed), then build output and doctor (docker)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sppo_gym.sandbox import doctor, image

# ---------------------------------------------------------------- tag = hash of inputs


@pytest.fixture
def tree_copy(tmp_path, monkeypatch):
    """Point the image inputs at a private copy of sandbox/ and verifiers/ that tests may edit."""
    copies = {}
    for name in ("sandbox", "verifiers"):
        src = image._package_dir(name)
        copies[name] = tmp_path / name
        shutil.copytree(src, copies[name], ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(image, "_package_dir", lambda name: copies[name])
    return copies


def test_tag_format_and_determinism():
    tag = image.image_tag()
    assert re.fullmatch(r"sppo-gym-sandbox:[0-9a-f]{12}", tag)
    assert tag == image.image_tag() == f"sppo-gym-sandbox:{image.inputs_digest()[:12]}"


def test_inputs_cover_dockerfile_pins_and_both_layers():
    names = [arc for arc, _ in image.image_inputs()]
    assert names == sorted(names)
    assert {"Dockerfile", "requirements.txt"} <= set(names)
    assert "src/sppo_gym/sandbox/server.py" in names
    assert "src/sppo_gym/verifiers/__init__.py" in names
    assert "src/sppo_gym/__init__.py" not in names  # namespace package
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/image/" in n]
    assert not [n for n in names if n.startswith(("src/sppo_gym/envs", "src/sppo_gym/trainer"))]


def test_source_change_makes_the_image_stale(tree_copy):
    before = image.image_tag()
    (tree_copy["verifiers"] / "math" / "judge.py").write_text("# changed\n", encoding="utf-8")
    after_edit = image.image_tag()
    assert after_edit != before
    (tree_copy["sandbox"] / "new_module.py").write_text("X = 1\n")
    after_add = image.image_tag()
    assert after_add not in (before, after_edit)
    (tree_copy["sandbox"] / "new_module.py").unlink()
    assert image.image_tag() == after_edit  # content-addressed: undoing restores the tag


def test_host_only_verifier_parts_stay_out_of_the_image(tree_copy):
    """The Coq theorem-set generator and the labelled math set are no judge's input: not shipped, not hashed."""
    names = [arc for arc, _ in image.image_inputs()]
    assert "src/sppo_gym/verifiers/coq/judge.py" in names
    for part in image.HOST_ONLY_VERIFIERS:
        assert not [n for n in names if n.startswith(f"src/sppo_gym/verifiers/{part}")], part
    before = image.image_tag()
    (tree_copy["verifiers"] / "coq" / "theorems.py").write_text("# regenerated\n", encoding="utf-8")
    (tree_copy["verifiers"] / "math" / "data" / "math_equivalence.jsonl").write_text("{}\n", encoding="utf-8")
    assert image.image_tag() == before


def test_bytecode_and_caches_do_not_change_the_tag(tree_copy):
    before = image.image_tag()
    pyc = tree_copy["sandbox"] / "__pycache__" / "server.cpython-311.pyc"
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(b"\0junk")
    (tree_copy["verifiers"] / "stray.pyc").write_bytes(b"\0junk")
    (tree_copy["verifiers"] / ".pytest_cache").mkdir()
    (tree_copy["verifiers"] / ".pytest_cache" / "x").write_text("x")
    assert image.image_tag() == before


def test_moving_content_between_files_changes_the_digest(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("xy")
    b.write_text("")
    d1 = image.inputs_digest([("src/a", a), ("src/b", b)])
    a.write_text("x")
    b.write_text("y")
    assert image.inputs_digest([("src/a", a), ("src/b", b)]) != d1
    assert image.inputs_digest([("src/b", b), ("src/a", a)]) == image.inputs_digest([("src/a", a), ("src/b", b)])


def test_requirements_are_exact_pins_with_sdist_marks(tmp_path):
    wheels, sdists = image.read_requirements()
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^ ]*", s) for s in wheels + sdists)
    names = {s.split("==")[0].lower().replace("_", "-") for s in wheels + sdists}
    assert {"sympy", "mpmath", "math-verify", "latex2sympy2-extended", "antlr4-python3-runtime",
            "reasoning-gym"} <= names
    bad = tmp_path / "req.txt"
    bad.write_text("sympy>=1.12\n")
    with pytest.raises(ValueError, match="pinned exactly"):
        image.read_requirements(bad)


def test_doctor_reports_an_unreachable_engine_with_the_fix(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/sppo-gym-test.sock")
    lines: list[str] = []
    assert doctor.run_checks(echo=lines.append) is False
    text = "\n".join(lines)
    assert "FAIL  engine" in text and "DOCKER_HOST" in text and "scripts/setup.sh" in text


# ---------------------------------------------------------------- real engine


@pytest.fixture(scope="module")
def client():
    return image.get_client()


@pytest.mark.docker
def test_built_image_is_labelled_and_holds_the_pins(client):
    tag = image.ensure_image(client, quiet=True)
    labels = client.images.get(tag).labels
    assert labels[image.LABEL] == "1" and tag == image.tag_for(labels[f"{image.LABEL}.inputs"])
    out = client.containers.run(tag, ["python3", "-m", "pip", "freeze"], remove=True, network_disabled=True,
                                network_mode="none", read_only=True)
    installed = {line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
                 for line in out.decode().splitlines() if "==" in line}
    wheels, sdists = image.read_requirements()
    for pin in wheels + sdists:
        name, version = pin.split("==")
        assert installed.get(name.lower().replace("_", "-")) == version, pin


@pytest.mark.docker
def test_doctor_passes_on_a_working_setup(client):
    image.ensure_image(client, quiet=True)
    lines: list[str] = []
    ok = doctor.run_checks(echo=lines.append)
    text = "\n".join(lines)
    assert ok, text
    for name in ("engine", "limits", "init", "image", "isolation"):
        assert re.search(rf"^OK +{name}:", text, re.M), (name, text)


@pytest.mark.docker
def test_doctor_flags_a_missing_image_with_the_build_command(client, monkeypatch):
    monkeypatch.setattr(image, "image_tag", lambda: "sppo-gym-sandbox:000000000000")
    lines: list[str] = []
    assert doctor.run_checks(echo=lines.append) is False
    text = "\n".join(lines)
    assert "FAIL  image: sppo-gym-sandbox:000000000000 missing" in text
    assert "fix: sppo-gym sandbox build" in text


def test_dockerfile_layers_put_the_source_last():
    steps = [ln.split()[0] for ln in Path(image.image_dir() / "Dockerfile").read_text().splitlines()
             if ln and not ln.startswith((" ", "#"))]
    copies = [i for i, s in enumerate(steps) if s == "COPY"]
    runs = [i for i, s in enumerate(steps) if s == "RUN"]
    # requirements + wheels are copied and installed before the source, which is the last COPY
    assert len(copies) == 3 and runs[-1] > copies[-1] and copies[1] < runs[1] < copies[-1]
