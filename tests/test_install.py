"""The provider as an installed package, outside any checkout.

`pip install .` (not editable) of a copy of this project into a fresh virtual environment in
a temporary folder, then, from another folder: `idp --help`, `idp db upgrade` and `idp serve`
on a free port, whose discovery document, sign-in page (in both languages) and style sheet
answer; SIGTERM stops it and nothing is left running.

Fast and offline: the new environment has no dependencies of its own; a `.pth` file points
it at a folder of links to this environment's installed distributions, the provider and its
demo left out, and the wheel is built with this environment's setuptools.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests
from helpers.live import free_port, wait_for_answer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Folders of a working checkout that are no part of the project's source.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "instance",
    "node_modules",
    "__pycache__",
    "*.pyc",
    "build",
    "dist",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
)
# What the package reads from its own files: every one must be in the installed package.
PACKAGE_DATA = ("templates", "static", "translations", "data", "migrations")


def dependencies_only(target: Path) -> Path:
    """Links to every installed distribution of this environment but the provider's own."""
    target.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("idp", "__editable__", "__pycache__")) or name.endswith(".pth"):
            continue
        (target / entry.name).symlink_to(entry)
    return target


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the project installed by `pip install .`."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        base,
        clean_environment(),
    ).stdout.strip()
    deps = dependencies_only(base / "dependencies")
    (Path(site) / "dependencies.pth").write_text(f"{deps}\n")
    pip = run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            ".",
        ],
        source,
        clean_environment(),
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without its settings, virtual environment or Python path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IDP_", "PYTHON", "VIRTUAL_ENV", "FLASK_"))
    }
    env.update(extra)
    return env


def installed_package(venv: Path) -> Path:
    found = run(
        [str(venv / "bin" / "python"), "-c", "import idp; print(idp.__file__)"],
        venv,
        clean_environment(),
    )
    assert found.returncode == 0, found.stderr
    return Path(found.stdout.strip()).parent


def files_under(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_package_holds_its_data_and_not_the_demo(installed):
    package = installed_package(installed)
    assert package.is_relative_to(installed), f"idp imported from {package}, not the install"
    assert (package / "defaults.toml").read_bytes() == (ROOT / "idp" / "defaults.toml").read_bytes()
    for name in PACKAGE_DATA:
        missing = files_under(ROOT / "idp" / name) - files_under(package / name)
        assert not missing, f"not in the installed package: {name}/{sorted(missing)}"
    assert (package / "translations" / "en" / "LC_MESSAGES" / "messages.mo").is_file()
    demo = run(
        [str(installed / "bin" / "python"), "-c", "import idp_demo"],
        installed,
        clean_environment(),
    )
    assert demo.returncode != 0 and "No module named 'idp_demo'" in demo.stderr


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "idp" / "migrations")).get_current_head()


def alembic_version(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_help_upgrade_and_serve_from_any_directory(installed, tmp_path):
    idp = str(installed / "bin" / "idp")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    database = tmp_path / "idp.sqlite3"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(
        IDP_DATABASE_URL=f"sqlite:///{database}", IDP_ISSUER=base, IDP_LOG_LEVEL="WARNING"
    )

    helped = run([idp, "--help"], elsewhere, env)
    assert helped.returncode == 0, helped.stderr
    commands = set(re.findall(r"^  ([a-z-]+) ", helped.stdout, re.M))
    assert {"db", "serve", "worker", "clients", "users", "keys"} <= commands
    assert "demo" not in commands  # the demo is its own package, not installed here

    upgraded = run([idp, "db", "upgrade"], elsewhere, env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert alembic_version(database) == head_revision()

    server = subprocess.Popen(
        [idp, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the server and its workers: one group, checked below
    )
    try:
        discovery = wait_for_answer(f"{base}/.well-known/openid-configuration", server, 60)
        assert discovery.status_code == 200
        assert discovery.json()["issuer"] == base
        page = requests.get(f"{base}/login", timeout=5)
        assert page.status_code == 200 and "Đăng nhập" in page.text
        english = requests.get(f"{base}/login", headers={"Accept-Language": "en"}, timeout=5)
        assert english.status_code == 200 and "Sign in" in english.text
        style = requests.get(f"{base}/static/style.css", timeout=5)
        assert style.status_code == 200 and style.content
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(15)
        except subprocess.TimeoutExpired:
            status = None
        left = group_alive(server.pid)
        if left or status is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
    assert status is not None, "the server did not stop within 15 s of SIGTERM"
    assert not left, "processes of the server were left running after SIGTERM"
    assert not (elsewhere / "instance").exists()  # the database was the one given


def test_without_a_database_url_the_database_is_in_instance_of_the_current_directory(
    installed, tmp_path
):
    upgraded = run([str(installed / "bin" / "idp"), "db", "upgrade"], tmp_path, clean_environment())
    assert upgraded.returncode == 0, upgraded.stderr
    assert alembic_version(tmp_path / "instance" / "idp.sqlite3") == head_revision()
