"""Read a targets file (YAML) into a :class:`gis.targets.TargetSet`.

The bundled file is ``workflows/targets/baicheng-2024.yml``; a user may write one for
another year or city and pass its path.
"""

from __future__ import annotations

import os
from pathlib import Path

from gis.config import load_yaml
from gis.errors import ConfigError, DataFileError
from gis.targets import TargetSet, parse_targets

TARGETS_DIR = Path(__file__).with_name("targets")
DEFAULT_TARGETS = TARGETS_DIR / "baicheng-2024.yml"
"""The bundled targets of Baicheng's 2024 government work report."""


def load_targets(path: str | os.PathLike | None = None) -> TargetSet:
    """Load and validate a targets file (default: the bundled Baicheng 2024 file).

    Raises
    ------
    DataFileError
        The file is missing or unreadable.
    ConfigError
        The file is too big, not UTF-8, not safe YAML (see :func:`gis.config.load_yaml`)
        or a target is invalid (the message names the file,
        the target key and the field).
    """
    p = Path(path) if path is not None else DEFAULT_TARGETS
    if not p.exists():
        raise DataFileError.of("error.targets_missing", path=p, bundled=DEFAULT_TARGETS)
    data = load_yaml(p, what="targets")
    if data is None:
        raise ConfigError.of("error.targets_empty", path=p, bundled=DEFAULT_TARGETS)
    return parse_targets(data, origin=str(p))
