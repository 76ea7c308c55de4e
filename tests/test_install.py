"""The install reads the lock files and resolves nothing, whatever the registry serves that day.

A newer release is put on offer (a local wheel folder named by PIP_FIND_LINKS and
UV_FIND_LINKS): a resolver asked for the same ranges picks it, and `make install-dev` into a
fresh virtual environment must still install exactly the locked versions and pass `pip check`.
The two packages offered are the ones that broke or could break an install: `coverage`, reached
through pytest-cov's `coverage[toml]` extra, and `setuptools`, which builds the project itself.
"""

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools/uv/bin/uv"
NEWER = {"coverage": "7.99.0", "setuptools": "99.0.0"}


def locked_versions(lock: str) -> dict[str, str]:
    """Name and version of each pin whose environment marker holds for this interpreter."""
    text = (ROOT / lock).read_text(encoding="utf-8")
    pins = re.findall(r"^([a-z0-9_.-]+)==([^ ;\\\n]+)(?: ; ([^\\\n]+))?", text, flags=re.M)
    return {
        name: version
        for name, version, marker in pins
        if not marker or Marker(marker.strip()).evaluate()
    }


def build_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal, valid pure-Python wheel: enough for an installer to take it as a release."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: featwright-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, content in files.items():
        digest = hashlib.sha256(content.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(content.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return wheel


@pytest.fixture
def newer_releases(tmp_path: Path) -> dict[str, str]:
    """Environment variables that offer every installer the newer releases."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, version in NEWER.items():
        build_wheel(wheels, name, version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "VIRTUAL_ENV"))}
    return {**env, "PIP_FIND_LINKS": str(wheels), "UV_FIND_LINKS": str(wheels)}


def test_the_newer_releases_on_offer_are_what_a_resolver_would_take(
    newer_releases: dict[str, str],
) -> None:
    """Without this the next test could pass because the offer was never seen."""
    resolved = subprocess.run(
        [str(UV), "pip", "compile", "--no-header", "--no-annotate", "-"],
        input="coverage[toml]>=7.10.6\nsetuptools>=75\n",
        capture_output=True,
        text=True,
        env=newer_releases,
        check=True,
    ).stdout
    for name, version in NEWER.items():
        assert f"{name}=={version}" in resolved


def test_a_fresh_install_takes_the_locked_versions_not_newer_ones(
    tmp_path: Path, newer_releases: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    install = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "install-dev", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=newer_releases,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    installed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "--version"], capture_output=True
    )
    assert installed.returncode != 0, "uv pip sync keeps nothing the lock does not list"
    locked = locked_versions("requirements-dev.lock")
    report = subprocess.run(
        [str(UV), "pip", "freeze", "--python", str(venv / "bin/python")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    frozen = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", report, flags=re.MULTILINE))
    frozen = {name.lower().replace("_", "-"): version for name, version in frozen.items()}
    for name in NEWER:
        assert frozen[name] == locked[name]
    assert {name: frozen.get(name) for name in locked} == locked
    check = subprocess.run(
        [str(UV), "pip", "check", "--python", str(venv / "bin/python")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_dev_lock_pins_every_run_time_package_at_the_same_version() -> None:
    runtime = locked_versions("requirements.lock")
    dev = locked_versions("requirements-dev.lock")
    assert runtime
    assert {name: dev.get(name) for name in runtime} == runtime


def test_add_works_with_the_run_time_install_alone(tmp_path: Path) -> None:
    """`make run` installs requirements.lock only: `featwright add` needs nothing more (no
    ruff), and what it writes is what `make lint`'s ruff would leave unchanged."""
    from tests.engine.conftest import copy_project

    venv = tmp_path / "venv"
    install = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "install", f"VENV={venv}"],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert not (venv / "bin/ruff").exists()
    project = copy_project(tmp_path / "project")
    env = {**os.environ, "PYTHONPATH": str(project), "SECRET_KEY": "k" * 40, "COLUMNS": "200"}

    def featwright(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(venv / "bin/python"), "-c", "from src.cli import app; app()", *args]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)

    assert featwright("doc", "new", "labels").returncode == 0
    (doc,) = (project / "docs/features").glob("FEAT-*-labels.md")
    added = featwright("add", str(doc.relative_to(project)))

    assert added.returncode == 0, added.stdout + added.stderr
    written = [
        line.split()[1]
        for line in added.stdout.splitlines()
        if line.startswith("│ ") and ".py" in line
    ]
    assert "src/models/label.py" in written
    assert any(path.startswith("migrations/versions/") for path in written)
    ruff = str(Path(sys.executable).with_name("ruff"))
    for args in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [ruff, *args, *written], cwd=project, capture_output=True, text=True
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
