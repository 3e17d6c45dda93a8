"""The soak's roles run one copy of the code, taken at start, so a restart mid-run runs the same version."""

from __future__ import annotations

from pathlib import Path

from soak.snapshot import PROJECT, snapshot_code


def test_the_copy_holds_the_roles_code_and_no_bytecode(tmp_path: Path) -> None:
    code = tmp_path / "code"
    snapshot_code(code)
    for role in ("api", "consumer", "worker", "workflows", "activities", "dnsorch", "migrations"):
        assert (code / role).is_dir(), role
    assert (code / "dnsorch" / "cli" / "__main__.py").read_text() == (
        PROJECT / "dnsorch" / "cli" / "__main__.py"
    ).read_text()
    assert not list(code.rglob("__pycache__")), "bytecode of the tree is not copied"
    assert not (code / "tests").exists() and not (code / "soak").exists(), "only what the roles run"


def test_taking_the_copy_again_replaces_the_old_one_whole(tmp_path: Path) -> None:
    code = tmp_path / "code"
    snapshot_code(code)
    (code / "dnsorch" / "stale.txt").write_text("left from an earlier run")
    snapshot_code(code)
    assert not (code / "dnsorch" / "stale.txt").exists(), "a new snapshot replaces the old one whole"


def test_a_revision_is_exported_as_committed(tmp_path: Path) -> None:
    code = tmp_path / "code"
    snapshot_code(code, "HEAD")
    assert (code / "dnsorch" / "cli" / "__main__.py").is_file()
    assert not list(code.rglob("__pycache__"))
