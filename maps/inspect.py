"""Field inspections (现场核查) on the map: what the form in a parcel's popup offers.

The form itself is ``maps/assets/inspect.js``: a finding from a fixed list, a note, an
optional area estimate, up to :data:`MAX_PHOTOS` photos downscaled in the browser to at
most :data:`MAX_PHOTO_PX` pixels (JPEG), and the GPS position with its accuracy and time.
Inspections are kept in the browser (IndexedDB) until exported as one GeoJSON file, which
``agrigis inspections import`` brings into the registry (:mod:`layers.inspections`).

Each parcel carries its project code (``k``) and, when the map was drawn from the
registry, the batch that wrote the version shown (``v``), so an inspection names the
exact parcel version the team looked at.

Examples
--------
>>> cfg = inspect_config("en")
>>> [code for code, _ in cfg["findings"]]
['built', 'partly_built', 'not_started', 'mismatch', 'other']
>>> cfg["max_photos"], cfg["max_px"]
(3, 1600)
"""

from __future__ import annotations

from gis.labels import label

FINDINGS = ("built", "partly_built", "not_started", "mismatch", "other")
"""Finding codes, in the order the form lists them (labels ``inspection.finding.<code>``)."""
MAX_PHOTOS = 3
MAX_PHOTO_PX = 1600
MAX_NOTE = 2000
"""Characters of a note (the import refuses longer ones)."""

_FORM_LABELS = ("title", "project_code", "choose", "finding", "note", "area_mu", "photos", "locating", "position",
                "no_position", "too_many_photos", "photo_failed", "save", "cancel", "need_finding", "save_failed",
                "list", "none", "export", "photo_unit")


def inspect_config(lang: str = "zh") -> dict:
    """The part of the map configuration the inspection form reads (labels, limits)."""
    return {
        "findings": [[code, label(f"inspection.finding.{code}", lang)] for code in FINDINGS],
        "labels": {k: label(f"inspection.form.{k}", lang) for k in _FORM_LABELS},
        "max_photos": MAX_PHOTOS, "max_px": MAX_PHOTO_PX, "max_note": MAX_NOTE,
    }
