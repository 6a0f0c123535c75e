"""The install exposes one import namespace, ``dreamcommons``, over the repository's folders."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setuptools_config() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]  # type: ignore[no-any-return]


def test_every_package_folder_is_installed_under_the_namespace() -> None:
    config = _setuptools_config()
    folders: dict[str, str] = config["package-dir"]  # type: ignore[assignment]
    listed: set[str] = set(config["packages"])  # type: ignore[call-overload]
    on_disk = set()
    for prefix, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join((prefix, *relative.parts)))
    assert on_disk - listed == set(), "packages missing from pyproject's [tool.setuptools]"
    assert all(name.split(".")[0] == "dreamcommons" for name in listed)


def test_outside_the_repository_only_the_namespace_imports(tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u\n"
        "import dreamcommons.server.gateway, dreamcommons.client, dreamcommons.firmware_sim\n"
        "print([n for n in ('server', 'client', 'firmware_sim', 'seeds') if u.find_spec(n)])\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


def test_the_seeds_are_found_through_the_package() -> None:
    from dreamcommons.contracts.venues import SEEDS_DIR, available_venues

    assert (SEEDS_DIR / "sleep-commons.toml").is_file()
    assert "harmony-festival" in available_venues()
