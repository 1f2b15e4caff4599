"""The distribution, its two dependency lists and the CLI entry point."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from workflows.cli import main

ROOT = Path(__file__).resolve().parents[1]


CONDA_FORGE_NAMES = {"python-zlib-ng": "zlib-ng"}
"""conda-forge packages whose name is not the PyPI one."""


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _conda_name(req: str) -> str:
    return CONDA_FORGE_NAMES.get(_name(req), _name(req))


def test_environment_yml_lists_the_same_runtime_packages_as_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pip_names = {_name(r) for r in pyproject["project"]["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda_names |= {_name(r) for r in dep.get("pip", [])}
        else:
            conda_names.add(_conda_name(dep))
    conda_names -= {"python", "pip"}
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; "
        f"only in pyproject.toml: {sorted(pip_names - conda_names)}"
    )


def test_pinned_versions_agree():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    flat = [d for d in env["dependencies"] if isinstance(d, str)]
    flat += [p for d in env["dependencies"] if isinstance(d, dict) for p in d["pip"]]
    env_specs = {_conda_name(d): d.replace(" ", "")[len(_name(d)):] for d in flat}
    for req in pyproject["project"]["dependencies"]:
        spec = req.replace(" ", "")[len(_name(req)):]
        assert env_specs[_name(req)] == spec, f"{_name(req)}: pyproject {spec!r} vs environment.yml {env_specs[_name(req)]!r}"


def test_version_and_help():
    runner = CliRunner()
    res = runner.invoke(main, ["--version"])
    assert res.exit_code == 0
    assert re.search(r"agrigis, version \d+\.\d+", res.output)
    res = runner.invoke(main, ["--help"])
    assert res.exit_code == 0 and "Baicheng" in res.output


def test_every_command_has_help():
    from workflows.cli import COMMANDS

    runner = CliRunner()
    for name in COMMANDS:
        res = runner.invoke(main, [name, "--help"])
        assert res.exit_code == 0, (name, res.output)
        assert "Usage:" in res.output


def test_output_option_is_named_the_same_everywhere():
    """Every command that writes files takes ``-o/--output``, not --out in one and --outdir
    in another."""
    import click

    from workflows.cli import COMMANDS, main as group

    ctx = click.Context(group)
    seen = 0
    stack = [group.get_command(ctx, n) for n in COMMANDS]
    while stack:
        cmd = stack.pop()
        if isinstance(cmd, click.Group):
            stack += [cmd.get_command(ctx, n) for n in cmd.list_commands(ctx)]
            continue
        for p in cmd.params:
            if isinstance(p, click.Option) and ("-o" in p.opts or any(o.startswith("--out") for o in p.opts)):
                assert sorted(p.opts) == ["--output", "-o"], (cmd.name, p.opts)
                seen += 1
    assert seen >= 9


def test_console_script_is_installed():
    out = subprocess.run(
        [Path(sys.executable).with_name("agrigis"), "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "agrigis" in out.stdout


def test_imports_flow_one_way():
    """gis imports nothing of ours; maps never imports layers or workflows; layers never maps/workflows."""
    forbidden = {
        "gis": ("layers", "maps", "workflows"),
        "layers": ("maps", "workflows"),
        "maps": ("layers", "workflows"),
    }
    bad = []
    for pkg, banned in forbidden.items():
        for path in (ROOT / pkg).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                m = re.match(r"\s*(?:from|import)\s+([a-zA-Z_][\w]*)", line)
                if m and m.group(1) in banned:
                    bad.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not bad, "imports against the one-way rule:\n" + "\n".join(bad)
