"""A plain `pip install .` (the Docker image's install) carries everything the roles read at run time.

The wheel is built from a copy of the source tree, so the shared checkout gets no `build/` or
egg-info, and installed with `pip install --target`; a subprocess started elsewhere then imports
dnsorch from that target only and resolves the default playbook, the `env/<ENV>.env` files and
the Alembic migrations.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dotenv import dotenv_values

from dnsorch.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

ENVIRONMENTS = sorted(path.stem for path in (PROJECT_ROOT / "env").glob("*.env"))
MIGRATION_VERSIONS = sorted(path.name for path in (PROJECT_ROOT / "migrations" / "versions").glob("0*.py"))
NOT_IN_THE_SOURCE_COPY = shutil.ignore_patterns(
    ".git", ".venv", ".dnsorch", ".env", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)

# Run in the subprocess: what an installed dnsorch resolves by default, as JSON.
PROBE = """
import json
import dnsorch.migrate, dnsorch.settings
from alembic.script import ScriptDirectory
from dnsorch.settings import load_settings

settings = {env: load_settings(env=env) for env in %(environments)r}
scripts = ScriptDirectory.from_config(dnsorch.migrate.alembic_config("postgresql://probe@/probe"))
print(json.dumps({
    "modules": [dnsorch.settings.__file__, dnsorch.migrate.__file__],
    "playbook": str(settings["dev"].playbook_path),
    "env_files": {env: str(dnsorch.settings._env_files(env)[0]) for env in settings},
    "values": {env: s.model_dump(mode="json") for env, s in settings.items()},
    "migrations": str(dnsorch.migrate.MIGRATIONS_DIR),
    "revisions": sorted(script.path.rsplit("/", 1)[-1] for script in scripts.walk_revisions()),
}))
"""


def _pip(*args: str, cwd: Path, hint: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"pip {' '.join(args)} failed:{hint}\n{result.stdout}\n{result.stderr}"


def _env_file(env: str) -> Path:
    return PROJECT_ROOT / "env" / f"{env}.env"


def _setuptools_builds_wheels_offline() -> bool:
    """setuptools >= 70.1 has bdist_wheel built in; older ones need the `wheel` package."""
    try:
        major, minor = (int(part) for part in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    try:
        importlib.metadata.version("wheel")
        has_wheel = True
    except importlib.metadata.PackageNotFoundError:
        has_wheel = False
    return (major, minor) >= (70, 1) or ((major, minor) >= (68, 0) and has_wheel)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("packaging")
    source, out = work / "source", work / "wheels"
    shutil.copytree(PROJECT_ROOT, source, ignore=NOT_IN_THE_SOURCE_COPY)
    # Offline with the venv's own setuptools when it can build wheels; otherwise pip's isolated
    # build fetches `[build-system] requires` from the package index.
    offline = _setuptools_builds_wheels_offline()
    isolation = ["--no-build-isolation"] if offline else []
    hint = "" if offline else " (offline, it needs setuptools>=70.1 in this venv)"
    _pip("wheel", "--no-deps", *isolation, "--wheel-dir", str(out), str(source), cwd=work, hint=hint)
    (built,) = out.glob("dnsorch-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Install the wheel alone into a directory and ask a fresh interpreter what it resolves."""
    work = tmp_path_factory.mktemp("installed")
    target, elsewhere = work / "site", work / "elsewhere"
    elsewhere.mkdir()
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=work)
    setting_names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key not in setting_names | {"PYTHONPATH"}}
    env["PYTHONPATH"] = str(target)  # ahead of the venv's editable install of the repository
    result = subprocess.run(
        [sys.executable, "-c", PROBE % {"environments": ENVIRONMENTS}],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {"target": target, **json.loads(result.stdout)}


def test_wheel_carries_playbooks_env_files_and_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("/entry_points.txt"))

    expected = {
        "playbooks/nsupdate_batch.yml",
        "playbooks/library/dns_batch_update.py",
        "playbooks/action_plugins/dns_batch_update.py",
        *(f"env/{env}.env" for env in ENVIRONMENTS),
        "migrations/env.py",
        "migrations/script.py.mako",
        *(f"migrations/versions/{version}" for version in MIGRATION_VERSIONS),
        "api/main.py",
        "worker/main.py",
        "workflows/provisioning.py",
        "activities/ansible.py",
        "consumer/main.py",
    }
    assert {"dev", "uta", "prod"} <= set(ENVIRONMENTS)
    assert MIGRATION_VERSIONS
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert "dnsorch = dnsorch.cli:main" in entry_points
    leaked = sorted(
        n for n in names if n.startswith(("tests/", "deploy/", "devstack/", ".dnsorch/")) or n == ".env"
    )
    assert not leaked, f"not for the wheel: {leaked}"


def test_installed_wheel_resolves_its_default_playbook_and_env_files(installed: dict) -> None:
    target = Path(installed["target"])

    assert all(Path(module).is_relative_to(target) for module in installed["modules"]), installed["modules"]
    playbook = Path(installed["playbook"])
    assert playbook.is_relative_to(target) and playbook.is_file()
    for env, env_file in installed["env_files"].items():
        assert Path(env_file).is_relative_to(target) and Path(env_file).is_file(), env
    # ...and really read: every value an env file sets is the installed settings' value.
    defaults = Settings.model_construct().model_dump(mode="json")
    changed = 0
    for env in ENVIRONMENTS:
        from_file = {key.lower(): value for key, value in dotenv_values(_env_file(env)).items()}
        expected = Settings.model_validate(from_file).model_dump(mode="json", include=set(from_file))
        assert {key: installed["values"][env][key] for key in expected} == expected, env
        changed += sum(expected[key] != defaults[key] for key in expected)
    assert changed, "no env file changes a default: this test would not notice an unread file"


def test_installed_wheel_finds_every_migration(installed: dict) -> None:
    migrations = Path(installed["migrations"])

    assert migrations.is_relative_to(Path(installed["target"])) and (migrations / "env.py").is_file()
    assert installed["revisions"] == MIGRATION_VERSIONS
