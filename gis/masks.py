"""Cloud, shadow, snow and no-data masks of Level-2 products, pure numpy.

``True`` means *masked* (not usable) everywhere in this module.

Sentinel-2 Scene Classification (SCL, Sen2Cor; ESA *Sentinel-2 L2A Product Format
Specification*) — the default mask is classes 0, 1, 3, 8, 9, 10, 11; water (6) on request:

====  ==========================  ====  ==========================
 0    no data                      6    water
 1    saturated or defective       7    unclassified
 2    dark area / topogr. shadow   8    cloud, medium probability
 3    cloud shadow                 9    cloud, high probability
 4    vegetation                  10    thin cirrus
 5    not vegetated               11    snow or ice
====  ==========================  ====  ==========================

Landsat Collection 2 ``QA_PIXEL`` bits (USGS *Landsat 8-9 C2 L2 Science Product Guide*,
table 6-3): 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow,
6 clear, 7 water. ``QA_RADSAT``: bit *n − 1* set = band *n* saturated.

Examples
--------
>>> import numpy as np
>>> scl_mask(np.array([0, 4, 6, 9])).tolist()
[True, False, False, True]
>>> scl_mask(np.array([0, 4, 6, 9]), water=True).tolist()
[True, False, True, True]
>>> qa_pixel_mask(np.array([1, 21824, 22280, 55052])).tolist()   # fill, clear, cloud, cirrus+cloud
[True, False, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .errors import InputError

SCL_CLASSES: dict[int, str] = {
    0: "no_data", 1: "saturated_or_defective", 2: "dark_area", 3: "cloud_shadow", 4: "vegetation",
    5: "not_vegetated", 6: "water", 7: "unclassified", 8: "cloud_medium_probability",
    9: "cloud_high_probability", 10: "thin_cirrus", 11: "snow",
}
"""Sentinel-2 SCL class value → name."""

SCL_DEFAULT: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)
"""SCL classes masked by default (water, 6, is optional)."""

SCL_WATER = 6

QA_BITS: dict[str, int] = {"fill": 0, "dilated_cloud": 1, "cirrus": 2, "cloud": 3, "cloud_shadow": 4, "snow": 5,
                           "clear": 6, "water": 7}
"""Landsat C2 QA_PIXEL flag name → bit."""

QA_DEFAULT: tuple[str, ...] = ("fill", "dilated_cloud", "cirrus", "cloud", "cloud_shadow", "snow")
"""QA_PIXEL flags masked by default."""


def scl_mask(scl: np.ndarray, classes: Iterable[int] = SCL_DEFAULT, *, water: bool = False) -> np.ndarray:
    """Cells of the SCL layer whose class is in ``classes`` (plus water, 6, if ``water``).

    Examples
    --------
    >>> scl_mask(np.array([[3, 5], [10, 11]]), classes=[3]).tolist()
    [[True, False], [False, False]]
    """
    chosen = set(int(c) for c in classes) | ({SCL_WATER} if water else set())
    bad = sorted(c for c in chosen if c not in SCL_CLASSES)
    if bad:
        raise InputError.of("error.imagery_scl_class", classes=", ".join(map(str, bad)))
    return np.isin(np.asarray(scl), sorted(chosen))


def qa_pixel_flags(qa: np.ndarray, flags: Iterable[str] = QA_DEFAULT) -> dict[str, np.ndarray]:
    """Each flag of ``flags`` → the cells where its QA_PIXEL bit is set.

    Examples
    --------
    >>> {k: v.tolist() for k, v in qa_pixel_flags(np.array([8, 16]), ["cloud", "cloud_shadow"]).items()}
    {'cloud': [True, False], 'cloud_shadow': [False, True]}
    """
    qa = np.asarray(qa).astype(np.uint16, copy=False)
    out = {}
    for name in flags:
        if name not in QA_BITS:
            raise InputError.of("error.imagery_qa_flag", flag=name, known=", ".join(QA_BITS))
        out[name] = (qa >> QA_BITS[name]) & 1 == 1
    return out


def qa_pixel_mask(qa: np.ndarray, flags: Iterable[str] = QA_DEFAULT) -> np.ndarray:
    """Cells where any of the QA_PIXEL bits of ``flags`` is set."""
    qa = np.asarray(qa)
    out = np.zeros(qa.shape, dtype=bool)
    for hit in qa_pixel_flags(qa, flags).values():
        out |= hit
    return out


def radsat_mask(radsat: np.ndarray, bands: Iterable[int]) -> np.ndarray:
    """Cells where any of the Landsat ``bands`` (numbers 1–11) is saturated in QA_RADSAT.

    Examples
    --------
    >>> radsat_mask(np.array([0, 0b1000, 0b0001]), bands=[4, 5]).tolist()
    [False, True, False]
    """
    radsat = np.asarray(radsat).astype(np.uint16, copy=False)
    bits = 0
    for n in bands:
        bits |= 1 << (int(n) - 1)
    saturated: np.ndarray = (radsat & bits) != 0
    return saturated


def cloud_probability_mask(prob: np.ndarray, threshold: float) -> np.ndarray:
    """Cells of the Sentinel-2 ``MSK_CLDPRB`` layer (0–100 %) above ``threshold``.

    Examples
    --------
    >>> cloud_probability_mask(np.array([0, 40, 41, 100]), 40).tolist()
    [False, False, True, True]
    """
    return np.asarray(prob) > threshold


@dataclass(frozen=True)
class MaskOptions:
    """Which classes and bits mask a cell; written into the output's attributes.

    ``cloud_prob``: also mask Sentinel-2 cells whose ``MSK_CLDPRB`` exceeds this
    percentage (None: not used; Landsat products have no such layer).

    Examples
    --------
    >>> MaskOptions(cloud_prob=40).attrs()["mask_cloud_probability_above"]
    '40'
    >>> MaskOptions(cloud_prob=120)
    Traceback (most recent call last):
    ...
    gis.errors.InputError: --cloud-prob 120: give a cloud probability in per cent, from 0 to 100
    """

    scl_classes: tuple[int, ...] = SCL_DEFAULT
    water: bool = False
    qa_flags: tuple[str, ...] = QA_DEFAULT
    radsat: bool = True
    cloud_prob: float | None = None

    def __post_init__(self) -> None:
        p = self.cloud_prob
        if p is not None and not (isinstance(p, (int, float)) and 0 <= p <= 100):
            raise InputError.of("error.imagery_cloud_prob", value=f"{p:g}" if isinstance(p, (int, float)) else p)

    def attrs(self) -> dict[str, str]:
        """The options as text attributes (``mask_scl_classes`` …) for an output file."""
        classes = sorted(set(self.scl_classes) | ({SCL_WATER} if self.water else set()))
        prob = "none" if self.cloud_prob is None else f"{self.cloud_prob:g}"
        return {"mask_scl_classes": ",".join(map(str, classes)),
                "mask_qa_pixel_bits": ",".join(f"{f}({QA_BITS[f]})" for f in self.qa_flags),
                "mask_qa_radsat": "yes" if self.radsat else "no",
                "mask_cloud_probability_above": prob}


def layer_mask(raw: np.ndarray, kind: str, options: MaskOptions = MaskOptions()) -> np.ndarray:
    """The mask of a product's mask layer: ``kind`` is ``scl`` (Sentinel-2) or ``qa_pixel``
    (Landsat).

    Examples
    --------
    >>> layer_mask(np.array([4, 6]), "scl", MaskOptions(water=True)).tolist()
    [False, True]
    """
    if kind == "scl":
        return scl_mask(raw, options.scl_classes, water=options.water)
    if kind == "qa_pixel":
        return qa_pixel_mask(raw, options.qa_flags)
    raise ValueError(f"unknown mask kind {kind!r}")
