"""Shared test fixtures: tiny data made here, and a real headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
"""Screenshots and other outputs a person may want to look at after a test run."""



def _find_shared() -> Path | None:
    """The team's shared folder (real products, real county files, the work report):
    ``$AGRIGIS_SHARED``, else ``shared/`` beside the checkout; None when neither exists."""
    env = os.environ.get("AGRIGIS_SHARED")
    for base in ([Path(env)] if env else []) + [ROOT.parent / "shared"]:
        if (base / "real-samples").is_dir():
            return base
    return None


SHARED = _find_shared()
if SHARED is None and os.environ.get("AGRIGIS_REQUIRE_SHARED") == "1":  # set by .ci/run: never skip these
    raise RuntimeError("AGRIGIS_REQUIRE_SHARED=1 but no shared folder with real-samples/ was found; "
                       "set AGRIGIS_SHARED")
SHARED_MISSING = ("the shared folder with real-samples/ was not found: set AGRIGIS_SHARED "
                  "(default <repo>/../shared)")

CHROMIUM = os.environ.get("AGRIGIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright.

    Skipped with a reason when Chromium or Playwright is missing, unless
    ``AGRIGIS_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where it fails instead.
    """
    required = os.environ.get("AGRIGIS_REQUIRE_BROWSER") == "1"
    reason = None
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    if reason:
        if required:
            pytest.fail(f"browser tests are required here: {reason}")
        pytest.skip(reason)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser):
    """A fresh page that records JavaScript errors in ``page.js_errors``."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = ctx.new_page()
    pg.js_errors = []
    pg.on("pageerror", lambda exc: pg.js_errors.append(str(exc)))
    try:
        yield pg
    finally:
        ctx.close()


class SmallDisk:
    """A real, tiny file system (tmpfs) mounted in a test folder: a full disk and a
    read-only disk without mocks. Needs root (CI runs as root); skipped elsewhere."""

    def __init__(self, path: Path, size: str):
        import subprocess

        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()}); needs root")

    def fill(self) -> None:
        """Use up every free byte."""
        for chunk in (65536, 1):
            try:
                with open(self.path / ".filler", "ab", buffering=0) as f:
                    while True:
                        f.write(b"\0" * chunk)
            except OSError:
                pass

    def free(self) -> None:
        (self.path / ".filler").unlink(missing_ok=True)

    def read_only(self, on: bool = True) -> None:
        import subprocess

        subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path)], check=True)

    def umount(self) -> None:
        import subprocess

        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture()
def small_disk(tmp_path):
    """``small_disk(size="2m")`` → a :class:`SmallDisk` mounted under ``tmp_path``;
    unmounted after the test."""
    disks: list[SmallDisk] = []

    def make(size: str = "2m", name: str = "disk") -> SmallDisk:
        d = SmallDisk(tmp_path / name, size)
        disks.append(d)
        return d

    yield make
    for d in disks:
        d.umount()


def cli(*args, cwd: Path | None = None):
    """Run ``agrigis ARGS`` in-process (optionally in folder ``cwd``); never a traceback."""
    from click.testing import CliRunner

    from workflows.cli import main

    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        res = CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)
    assert "Traceback" not in res.output, res.output
    return res


def one_error_line(res) -> str:
    """The one line a failed command printed (exit status 1)."""
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.output
    return lines[0]
