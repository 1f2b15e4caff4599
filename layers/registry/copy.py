"""Move a whole registry between backends (``agrigis registry copy``): GeoPackage →
PostGIS and back, every version, batch, fingerprint, inspection and photo as stored."""

from __future__ import annotations

import logging

from gis.errors import RegistryError

from .model import TABLES

log = logging.getLogger(__name__)


def copy_registry(source, target) -> dict[str, int]:
    """Copy every table of ``source`` into the empty registry ``target`` in one transaction.

    Rows keep their ``fid``, every field (``valid_from``/``valid_to``, ``closed_by``,
    ``fingerprint``, batch counts and status) and their geometry bytes, so a copy there
    and back is the same registry, byte for byte; ``verify`` finds nothing new.

    Parameters
    ----------
    source, target : layers.registry.Registry
        Any two backends; ``target`` must hold no version, batch or inspection yet.

    Returns
    -------
    dict
        Rows copied per table (``projects``, ``batches``, ``inspections``, ``inspection_photos``).

    Raises
    ------
    RegistryError
        ``target`` is not empty (nothing is written then).

    Examples
    --------
    >>> import tempfile
    >>> from layers.registry import Registry
    >>> d = tempfile.mkdtemp()
    >>> copy_registry(Registry(d + "/a.gpkg"), Registry(d + "/b.gpkg"))["projects"]
    0
    """
    if not target.backend.is_empty():
        raise RegistryError.of("error.copy_target_not_empty", path=target.path, source=source.path)
    counts = {}
    with target.backend.transaction() as tx:
        for table in TABLES:
            cols, rows = source.backend.dump(table)
            target.backend.load(tx, table, cols, rows)
            counts[table] = len(rows)
    log.info("copied %s to %s: %s", source.path, target.path, counts)
    return counts
