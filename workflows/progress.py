"""``agrigis progress``: how far the city is from each target, by county, honestly counted.

Recipe: load the registry's current parcels, the targets file and the county layer (and
the nature reserves when the catalogue has a ``protected_areas`` layer), compute with
:func:`gis.tracking.progress`, then (:mod:`workflows.progress_hooks`) flag the completed
projects a field inspection contradicts, give every flag a severity from the land-use
rules (``problem`` or ``information``) and, with an evidence table of ``agrigis verify``,
add per target the area claimed complete that the imagery disagrees with or did not
observe; print a table and write ``progress.xlsx``, ``progress.csv`` and
``progress.html`` into the output folder (with a sheet 现场核查 listing the registry's
field inspections when it has any, GeoPackage or PostGIS).

From Python (notebooks, the demo)::

    from workflows.progress import run_progress
    out = run_progress("out/", registry="registry.gpkg", as_of="2024-06-30")
    out.result.summary          # pandas DataFrame
    out.paths["xlsx"]
"""

from __future__ import annotations

import datetime as _dt
from html import escape as _html_escape
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd

from gis.labels import COUNTIES, STATUSES, label
from gis.tracking import OUTSIDE_CITY, Progress, as_date, progress
from workflows.options import (RegistryURL, lang_option, open_registry, registry_option, registry_parcels,
                               registry_path)
from workflows.progress_hooks import (EVIDENCE_SUMMARY, INSPECTION_SHEET, ProgressExtras, evidence_by_target,
                                      flag_severity, inspection_flags, inspection_table, load_land_rules,
                                      read_evidence)
from gis.outputs import Sheet, staged_outputs, write_csv, write_excel, write_text
from workflows.report import Bar, html_page, html_table, svg_bars
from workflows.targets import DEFAULT_TARGETS, load_targets

log = logging.getLogger(__name__)

WAN = "#,##0.00##"
MU = "#,##0.00"
PCT = "0.0"

COLOURS = {"achieved": "#2e7d32", "under_construction": "#f9a825", "planned": "#90caf9"}


@dataclass
class ProgressOutputs:
    """What :func:`run_progress` produced: the computed tables and the files written."""

    result: Progress
    paths: dict[str, Path] = field(default_factory=dict)
    synthetic_batches: list[str] = field(default_factory=list)
    inspections: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(INSPECTION_SHEET)))


def _region_name(code: str, lang: str, names: dict[str, str]) -> str:
    if code == OUTSIDE_CITY:
        return label("tracking.region.outside_city", lang)
    if code in COUNTIES:
        return label(f"county.{code}", lang)
    return names.get(code, code)


def _scope_name(scope: str, lang: str, names: dict[str, str]) -> str:
    if scope == "city":
        return label("tracking.scope.city", lang)
    sep = "、" if lang == "zh" else ", "
    return sep.join(_region_name(c, lang, names) for c in scope.split(","))


def display_tables(res: Progress, lang: str = "zh", county_names: dict[str, str] | None = None) -> dict[str, Sheet]:
    """The result as :class:`~gis.outputs.Sheet` objects with headers a person reads."""
    names = county_names or {}
    ts = res.targets
    L = lambda k: label(k, lang)  # noqa: E731
    col = lambda c: L(f"tracking.col.{c}")  # noqa: E731

    def rename(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        out = df[cols].copy()
        out.columns = [col(c) for c in cols]
        return out

    s = res.summary.copy()
    s["scope"] = [_scope_name(v, lang, names) for v in s.scope]
    s["comparator"] = [L(f"tracking.comparator.{v}") for v in s.comparator]
    s["status"] = [L(f"tracking.status.{v}") for v in s.status]
    s["pace"] = [L(f"tracking.pace.{v}") for v in s.pace]
    s_cols = ["name", "scope", "comparator", "target_wan_mu", "achieved_wan_mu", "percent",
              "under_construction_wan_mu", "planned_wan_mu", "with_pipeline_percent", "remaining_wan_mu",
              "expected_wan_mu", "pace", "status", "outside_scope_wan_mu", "n_parcels"]
    s_cols += [c for c in EVIDENCE_SUMMARY if c in s.columns]
    summary = rename(s, s_cols)

    by_county = _by_county_sheet(res, lang, names)

    c = res.counts.copy()
    c["scope"] = [_scope_name(v, lang, names) for v in c.scope]
    c["status"] = [L(f"tracking.status.{v}") for v in c.status]
    counts = rename(c, ["name", "scope", "min_site_mu", "max_site_mu", "target_sites", "achieved_sites",
                        "with_pipeline_sites", "largest_site_mu", "status"])

    si = res.sites.copy()
    si["region"] = [_region_name(v, lang, names) for v in si.region]
    tname = {t.key: t.name(lang) for t in ts.count_targets}
    si["category"] = [ts.category_name(v, lang) for v in si.category]
    si["counts_for"] = ["、".join(tname.get(k, k) for k in v.split(",") if k) for v in si.counts_for]
    sites = rename(si, ["category", "year", "site", "area_mu", "counts_for", "region", "project_codes"])

    f = res.flags.copy()
    f["flag"] = [L(f"tracking.flag.{v}") for v in f.flag]
    f["category"] = [ts.category_name(v, lang) for v in f.category]
    f["status"] = [label(f"status.{v}", lang) if v in STATUSES else v for v in f.status]
    f["region"] = [_region_name(v, lang, names) if isinstance(v, str) else "" for v in f.region]
    f = f.rename(columns={"status": "status_code"})
    f_cols = ["flag", "project_code", "other_project_code", "category", "year", "status_code", "region", "area_mu",
              "declared_area_mu", "detail"]
    if "severity" in f.columns:
        f["severity"] = [L(f"tracking.severity.{v}") for v in f.severity]
        f_cols = f_cols[:1] + ["severity"] + f_cols[1:] + ["rule"]
    flags = rename(f, f_cols)

    bl = res.baselines.copy()
    bl["sentence"] = [next(x.sentence for x in ts.baselines if x.key == k) for k in bl.key]
    baselines = rename(bl, ["name", "year", "value_wan_mu", "registry_achieved_wan_mu", "sentence"])

    nt = res.not_tracked.copy()
    nt["comparator"] = [L(f"tracking.comparator.{v}") for v in nt.comparator]
    not_tracked = rename(nt, ["name", "value", "unit", "comparator", "sentence"])

    wan = {col(k): WAN for k in ("target_wan_mu", "achieved_wan_mu", "county_achieved_wan_mu",
                                  "under_construction_wan_mu",
                                  "planned_wan_mu", "remaining_wan_mu", "expected_wan_mu",
                                  "outside_scope_wan_mu", "value_wan_mu", "registry_achieved_wan_mu")}
    mu = {col(k): MU for k in ("area_mu", "declared_area_mu", "largest_site_mu", "min_site_mu", "max_site_mu",
                                *EVIDENCE_SUMMARY)}
    pct = {col(k): PCT for k in ("percent", "with_pipeline_percent")}
    fmt = {**wan, **mu, **pct}
    sheet = lambda key, df: Sheet(L(f"tracking.sheet.{key}"), df, {k: v for k, v in fmt.items() if k in df.columns})  # noqa: E731
    return {
        "summary": sheet("summary", summary),
        "by_county": sheet("by_county", by_county),
        "counts": sheet("counts", counts),
        "sites": sheet("sites", sites),
        "flags": sheet("flags", flags),
        "baselines": sheet("baselines", baselines),
        "not_tracked": sheet("not_tracked", not_tracked),
    }


def _not_piloted(res: Progress) -> pd.Series:
    """Per by-county row: a county outside the pilot area of a target that has one."""
    b = res.by_county
    scoped = set(res.summary.loc[res.summary["scope"] != "city", "key"])
    return b["key"].isin(scoped) & ~b["in_scope"].astype(bool) & (b["region"].astype(str) != OUTSIDE_CITY)


def _by_county_sheet(res: Progress, lang: str, names: dict[str, str]) -> pd.DataFrame:
    """The by-county table: 本县完成 of the county; a county outside a target's pilot
    area says 不在试点范围 (and so does its completed area when it has none)."""
    L = lambda k: label(k, lang)  # noqa: E731
    b = res.by_county.copy()
    out_of_pilot = _not_piloted(res).to_numpy()
    b["region"] = [_region_name(v, lang, names) for v in b.region]
    b["in_scope"] = [L("tracking.not_in_pilot") if o else L(f"tracking.bool.{str(bool(v)).lower()}")
                     for v, o in zip(b.in_scope, out_of_pilot, strict=True)]
    done = b["achieved_wan_mu"].astype(object)
    done[out_of_pilot & ~(b["achieved_wan_mu"].fillna(0).to_numpy() > 0)] = L("tracking.not_in_pilot")
    b["county_achieved_wan_mu"] = done
    cols = ["name", "region", "in_scope", "county_achieved_wan_mu", "under_construction_wan_mu", "planned_wan_mu",
            "n_parcels"]
    out = b[cols].copy()
    out.columns = [L(f"tracking.col.{c}") for c in cols]
    return out


def inspection_sheet(table: pd.DataFrame, lang: str = "zh", county_names: dict[str, str] | None = None) -> Sheet:
    """The report's inspection sheet (现场核查) of :func:`workflows.progress_hooks.inspection_table`."""
    L = lambda k: label(k, lang)  # noqa: E731
    t = table.copy()
    names = county_names or {}
    t["county_code"] = [_region_name(str(v), lang, names) if isinstance(v, str) and v else "" for v in t.county_code]
    t["status"] = [label(f"status.{v}", lang) if v in STATUSES else (v or "") for v in t.status]
    t["finding"] = [L(f"inspection.finding.{v}") for v in t.finding]
    t["created_at"] = [str(v or "")[:16].replace("T", " ") for v in t.created_at]
    t["contradicts"] = [L(f"tracking.bool.{str(bool(v)).lower()}") for v in t.contradicts]
    t.columns = [L(f"tracking.col.inspection_{c}") for c in t.columns]
    fmt = {L("tracking.col.inspection_accuracy_m"): "0.0", L("tracking.col.inspection_photo_count"): "0"}
    return Sheet(L("tracking.sheet.inspections"), t, fmt)


def method_rows(res: Progress, lang: str, sources: dict[str, str], warning: str) -> pd.DataFrame:
    """The method sheet: how the numbers were made and from which data."""
    L = lambda k: label(k, lang)  # noqa: E731
    ts = res.targets
    statuses = sorted({s for t in ts.area_targets for s in t.achieved_statuses},
                      key=list(STATUSES).index)
    st_text = "、".join(label(f"status.{s}", lang) for s in statuses) if lang == "zh" else ", ".join(statuses)
    src = ts.source.get("title_zh" if lang == "zh" else "title_en", "")
    rows = []
    if warning:
        rows.append(("⚠", warning))
    rows += [
        (L("tracking.method.title"), ""),
        ("1", L("tracking.method.union").format(statuses=st_text)),
        ("2", L("tracking.method.county")),
        ("3", L("tracking.method.pipeline")),
        ("4", L("tracking.method.pace")),
        ("5", L("tracking.method.sites").format(gap=res.info.get("site_gap_m", 10))),
        ("6", L("tracking.method.area")),
        ("7", L("tracking.method.state")),
        (L("tracking.method.as_of"), res.as_of.isoformat()),
        (L("tracking.method.targets"), f"{sources.get('targets', ts.origin)} — {src} ({ts.source.get('date', '')})"),
        (L("tracking.method.registry"), sources.get("registry", "")),
        (L("tracking.method.counties"), sources.get("counties", "")),
        (L("tracking.method.protected"), sources.get("protected_areas") or L("tracking.method.none")),
        (L("tracking.method.rules"), sources.get("rules") or L("tracking.method.none")),
        (L("tracking.method.evidence"), sources.get("evidence") or L("tracking.method.none")),
        (L("tracking.method.parcels"), f"{res.info.get('n_parcels', 0):,} / {res.info.get('n_used', 0):,}"),
    ]
    if sources.get("evidence"):
        rows.append(("", L("tracking.method.evidence_note")))
    return pd.DataFrame(rows, columns=[L("tracking.col.key"), L("tracking.col.detail")])


def severity_counts(res: Progress, lang: str) -> str:
    """"problems n · information m" of the flags (empty when the flags have no severity)."""
    if "severity" not in res.flags.columns:
        return ""
    n = res.flags["severity"].value_counts()
    return label("tracking.severity_counts", lang).format(problem=f"{int(n.get('problem', 0)):,}",
                                                          information=f"{int(n.get('information', 0)):,}")


def _html(res: Progress, sheets: dict[str, Sheet], lang: str, *, subtitle: str, warning: str, footer: str,
          method: pd.DataFrame) -> str:
    L = lambda k: label(k, lang)  # noqa: E731
    bars = []
    for r in res.summary.itertuples(index=False):
        segs = [(r.achieved_wan_mu, COLOURS["achieved"], L("tracking.chart.achieved")),
                (r.under_construction_wan_mu, COLOURS["under_construction"], L("tracking.chart.under_construction")),
                (r.planned_wan_mu, COLOURS["planned"], L("tracking.chart.planned"))]
        unit = L("unit.wan_mu")
        bars.append(Bar(r.name, segs, r.target_wan_mu, marker=r.expected_wan_mu,
                        text=f"{r.percent:.1f}% · {r.achieved_wan_mu:,.2f}/{r.target_wan_mu:,.2f} {unit}"))
    legend = "".join(
        f'<span style="background:{COLOURS[k]}"></span>{L("tracking.chart." + k)}'
        for k in ("achieved", "under_construction", "planned"))
    legend += (f'<span style="background:#000;width:3px"></span>{L("tracking.chart.target")} (100%)'
               f'<span style="background:#c00000;width:3px"></span>{L("tracking.chart.expected")}')
    chart = svg_bars(bars, marker_label=L("tracking.chart.expected"), target_label=L("tracking.chart.target"))
    dec = {L("tracking.col.percent"): 1, L("tracking.col.with_pipeline_percent"): 1}
    dec.update({k: 4 for k, v in sheets["summary"].formats.items() if v == WAN})
    dec.update({k: 4 for k, v in sheets["by_county"].formats.items() if v == WAN})
    dec.update({L(f"tracking.col.{c}"): 2 for c in EVIDENCE_SUMMARY})
    # by county, achieved area pivoted: one row per target, one column per county
    b = res.by_county
    pv = b.pivot_table(index="key", columns="region", values="achieved_wan_mu", aggfunc="sum", sort=False)
    pv = pv.reindex(res.summary.key).astype(object)
    for k, region in b.loc[_not_piloted(res) & ~(b["achieved_wan_mu"].fillna(0) > 0), ["key", "region"]].itertuples(
            index=False):
        pv.loc[k, region] = L("tracking.not_in_pilot")
    pv.index = res.summary.name.to_list()
    names = {c: _region_name(c, lang, {}) for c in pv.columns}
    pv = pv.rename(columns=names).reset_index().rename(columns={"index": L("tracking.col.name")})
    pv_dec = {c: 4 for c in pv.columns}
    body = [
        f"<h2>{L('tracking.sheet.summary')}</h2>",
        f'<div class="legend">{legend}</div>', chart,
        html_table(sheets["summary"].df, dec),
        f"<h2>{L('tracking.sheet.by_county')} — {L('tracking.col.county_achieved_wan_mu')}</h2>",
        html_table(pv, pv_dec),
        f"<h2>{L('tracking.sheet.counts')}</h2>",
        html_table(sheets["counts"].df, {L("tracking.col.largest_site_mu"): 2}),
    ]
    flags = sheets["flags"].df
    if len(flags):
        counts = flags.iloc[:, 0].value_counts()
        body.append(f"<h2>{L('tracking.sheet.flags')} ({len(flags):,})</h2>")
        if sev := severity_counts(res, lang):
            body.append(f'<p class="severity"><b>{_html_escape(sev)}</b></p>')
        body.append("<p>" + " · ".join(f"{_html_escape(k)}: {v:,}" for k, v in counts.items()) + "</p>")
        body.append(html_table(flags.head(50), {L("tracking.col.area_mu"): 2, L("tracking.col.declared_area_mu"): 2},
                               plain=[L("tracking.col.year")]))
    body += [
        *_html_inspections(sheets, lang),
        f"<h2>{L('tracking.sheet.baselines')}</h2>",
        html_table(sheets["baselines"].df, {}, plain=[L("tracking.col.year")]),
        f"<h2>{L('tracking.sheet.not_tracked')}</h2>", html_table(sheets["not_tracked"].df, {}),
        f"<h2>{L('tracking.sheet.method')}</h2>", html_table(method, {}),
    ]
    title = L("tracking.title").format(year=res.targets.year)
    return html_page(title, "".join(body), subtitle=subtitle, warning=warning, footer=footer, lang=lang)


def _html_inspections(sheets: dict[str, Sheet], lang: str) -> list[str]:
    """The inspection section of the page (nothing when the registry has no inspection)."""
    if "inspections" not in sheets:
        return []
    df = sheets["inspections"].df
    return [f"<h2>{label('tracking.sheet.inspections', lang)} ({len(df):,})</h2>",
            html_table(df, {label("tracking.col.inspection_accuracy_m", lang): 1})]


def write_outputs(res: Progress, outdir: str | os.PathLike, lang: str = "zh", sources: dict[str, str] | None = None,
                  synthetic_batches: list[str] | None = None, county_names: dict[str, str] | None = None, *,
                  inspections: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write progress.xlsx, progress.csv and progress.html into ``outdir``; return their paths.

    ``inspections`` (:func:`workflows.progress_hooks.inspection_table`): when it has rows,
    the workbook gains the sheet 现场核查 after the flags, and the page its table.

    The three land together or not at all (:func:`gis.outputs.staged_outputs`): a full
    disk or a file that cannot be replaced leaves the previous three as they were.
    """
    out = Path(outdir)
    sources = sources or {}
    L = lambda k: label(k, lang)  # noqa: E731
    warning = L("tracking.synthetic_warning").format(batches=", ".join(synthetic_batches)) if synthetic_batches else ""
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    footer = L("tracking.footer").format(now=now)
    ts = res.targets
    src_title = ts.source.get("title_zh" if lang == "zh" else "title_en", ts.origin)
    subtitle = L("tracking.subtitle").format(city=ts.city_name(lang), as_of=res.as_of.isoformat(), source=src_title)
    sheets = display_tables(res, lang, county_names)
    if inspections is not None and len(inspections):
        sheets["inspections"] = inspection_sheet(inspections, lang, county_names)
    method = method_rows(res, lang, sources, warning)
    notes = [warning] if warning else []
    ordered = []
    sev = severity_counts(res, lang)
    for key in ("summary", "by_county", "counts", "sites", "flags", "inspections", "baselines", "not_tracked"):
        if key not in sheets:
            continue
        sh = sheets[key]
        sh.notes = ([sev] if key == "flags" and sev else []) + notes
        if key == "summary":
            sh.title = f"{L('tracking.title').format(year=ts.year)} — {subtitle}"
        ordered.append(sh)
    ordered.append(Sheet(L("tracking.sheet.method"), method, notes=notes))
    csv = pd.concat([res.summary[["key"]].rename(columns={"key": L("tracking.col.key")}), sheets["summary"].df], axis=1)
    page = _html(res, sheets, lang, subtitle=subtitle, warning=warning, footer=footer, method=method)
    names = {"xlsx": "progress.xlsx", "csv": "progress.csv", "html": "progress.html"}
    with staged_outputs(out, names.values()) as tmp:
        write_excel(tmp / names["xlsx"], ordered, footer=" · ".join(x for x in (footer, warning) if x))
        write_csv(tmp / names["csv"], csv, note=warning)
        write_text(tmp / names["html"], page)
    return {k: out / n for k, n in names.items()}


def run_progress(
    outdir: str | os.PathLike = "progress",
    *,
    registry: str | os.PathLike | None = None,
    targets: str | os.PathLike | None = None,
    as_of: _dt.date | str | None = None,
    year: int | None = None,
    lang: str = "zh",
    workspace=None,
    parcels=None,
    counties=None,
    protected_areas=None,
    write: bool = True,
    extras: ProgressExtras | None = None,
) -> ProgressOutputs:
    """Compute progress and write the report files.

    ``parcels`` (a GeoDataFrame with the registry's columns) may be given instead of a
    registry; ``counties``/``protected_areas`` default to the catalogue's layers with the
    roles ``counties`` and ``protected_areas`` (``workspace`` as in :func:`layers.load`).
    ``extras`` (:class:`workflows.progress_hooks.ProgressExtras`): the land-use rules
    that give each flag its severity, an evidence table of ``agrigis verify``, and
    whether to flag contradicting field inspections (read from the registry, so only
    when one is read: ``parcels`` not given, or ``registry`` given with them).
    """
    import layers

    ex = extras or ProgressExtras()
    as_of = as_date(as_of)  # checked before the slow part
    ts = load_targets(targets)
    rules = load_land_rules(ex.rules)
    evidence = read_evidence(ex.evidence) if ex.evidence is not None else None
    sources = {"targets": str(Path(targets) if targets else DEFAULT_TARGETS),
               "rules": str(ex.rules) if isinstance(ex.rules, (str, os.PathLike)) else "workflows/land_rules.yml",
               "evidence": "" if ex.evidence is None else (
                   str(ex.evidence) if isinstance(ex.evidence, (str, os.PathLike)) else "DataFrame")}
    read_registry = parcels is None or registry is not None
    if parcels is None:
        rp = registry_path(registry)
        parcels = registry_parcels(rp)
        sources["registry"] = rp.name if isinstance(rp, RegistryURL) else str(rp)  # never a password
    else:
        sources["registry"] = "GeoDataFrame"
    synthetic = list(parcels.attrs.get("synthetic_batches", []))
    cat = layers.get_catalog(workspace)
    if counties is None:
        counties, entry = cat.load_role("counties")
        sources["counties"] = _source(entry)
    else:
        sources.setdefault("counties", "GeoDataFrame")
    if protected_areas is None:
        protected_areas, entry = cat.load_role("protected_areas", required=False)
        if entry is not None:
            sources["protected_areas"] = _source(entry)
    else:
        sources["protected_areas"] = "GeoDataFrame"
    res = progress(parcels, ts, counties, as_of=as_of, protected_areas=protected_areas, year=year, lang=lang)
    ins = _add_hooks(res, parcels, registry_path(registry) if read_registry and ex.inspections else None, rules,
                     evidence, lang)
    used = set(res.info.get("batch_ids", []))
    synthetic = sorted(set(synthetic) & used) if used else sorted(synthetic)
    names = _county_names(counties, lang)
    paths = write_outputs(res, outdir, lang, sources, synthetic, names, inspections=ins) if write else {}
    return ProgressOutputs(res, paths, synthetic, ins)


def _source(entry) -> str:
    return f"{entry.name}: {entry.source or ''}" + (" (synthetic)" if entry.synthetic else "")


def _county_names(counties, lang: str) -> dict[str, str]:
    if "name_zh" not in counties.columns:
        return {}
    ncol = "name_zh" if lang == "zh" else ("name_en" if "name_en" in counties.columns else "name_pinyin")
    if ncol not in counties.columns:
        return {}
    return dict(zip(counties["county_code"].astype(str), counties[ncol].astype(str), strict=True))


def _add_hooks(res: Progress, parcels, registry, rules, evidence, lang: str) -> pd.DataFrame:
    """Inspection flags, the flags' severities and the evidence columns, into ``res``;
    return the registry's inspections (:func:`~workflows.progress_hooks.inspection_table`,
    empty without a registry). Either backend: GeoPackage or PostGIS."""
    flags = res.flags
    table = pd.DataFrame(columns=list(INSPECTION_SHEET))
    if registry is not None:
        extra = inspection_flags(registry, parcels, lang)
        if len(extra):
            flags = pd.concat([flags.astype(object), extra.astype(object)], ignore_index=True)
        table = inspection_table(open_registry(registry))
    res.flags = flag_severity(flags, rules, lang)
    if evidence is not None:
        ev = evidence_by_target(res.targets, evidence)
        res.summary = res.summary.join(ev, on="key")
    return table


def _print_table(res: Progress, lang: str, synthetic: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    L = lambda k: label(k, lang)  # noqa: E731
    t = Table(title=f"{L('tracking.title').format(year=res.targets.year)} ({res.as_of.isoformat()})")
    for c in ("name", "target_wan_mu", "achieved_wan_mu", "percent", "under_construction_wan_mu",
              "planned_wan_mu", "remaining_wan_mu", "pace"):
        t.add_column(L(f"tracking.col.{c}"), justify="left" if c in ("name", "pace") else "right",
                     no_wrap=c == "name", overflow="fold")
    for r in res.summary.itertuples(index=False):
        colour = "green" if r.pace in ("met", "ahead") else "red"
        t.add_row(r.name, f"{r.target_wan_mu:,.2f}", f"{r.achieved_wan_mu:,.2f}", f"{r.percent:.1f}",
                  f"{r.under_construction_wan_mu:,.2f}", f"{r.planned_wan_mu:,.2f}", f"{r.remaining_wan_mu:,.2f}",
                  f"[{colour}]{L('tracking.pace.' + r.pace)}[/{colour}]")
    for r in res.counts.itertuples(index=False):
        t.add_row(r.name, str(r.target_sites), str(r.achieved_sites), "", "", "", "",
                  L(f"tracking.status.{r.status}"))
    con = Console()
    con.width = max(con.width, 140)
    con.print(t)
    if synthetic:
        con.print(f"[bold yellow]{L('tracking.synthetic_warning').format(batches=', '.join(synthetic))}[/]")
    _print_flags(con, res, lang)
    if EVIDENCE_SUMMARY[0] in res.summary.columns:
        _print_evidence(con, res, lang)


def _print_flags(con, res: Progress, lang: str) -> None:
    """Problems and information apart, each with its kinds of flag."""
    from gis.labels import message

    f = res.flags
    if not len(f):
        return
    sev = f["severity"] if "severity" in f.columns else pd.Series("problem", index=f.index)
    for s in ("problem", "information"):
        part = f[sev == s]
        if len(part):
            con.print(message(f"check.total_{s}", lang, n=len(part)), highlight=False)
            for k, v in part["flag"].value_counts().items():
                con.print(f"    {label('tracking.flag.' + k, lang)}: {v}", highlight=False)


def _print_evidence(con, res: Progress, lang: str) -> None:
    """Per target with evidence: claimed complete, disagrees, unobserved (亩)."""
    L = lambda k: label(k, lang)  # noqa: E731
    s = res.summary.dropna(subset=[EVIDENCE_SUMMARY[0]])
    for r in s.itertuples(index=False):
        con.print(f"{r.name}: {L('tracking.col.evidence_claimed_mu')} {r.evidence_claimed_mu:,.2f} · "
                  f"{L('tracking.col.evidence_not_supported_mu')} {r.evidence_not_supported_mu:,.2f} · "
                  f"{L('tracking.col.evidence_unobserved_mu')} {r.evidence_unobserved_mu:,.2f}", highlight=False)


@click.command("progress")
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("progress"),
              show_default=True, help="Folder for progress.xlsx, progress.csv and progress.html.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="Reporting date for the pace (default: today).")
@click.option("--year", type=int, default=None, help="Only the targets of this year (default: all in the file).")
@click.option("--targets", "targets", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Targets YAML file (default: the bundled Baicheng 2024 targets).")
@click.option("--rules", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Land-use rules (layout of workflows/land_rules.yml): which flags are problems, which information.")
@click.option("--evidence", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="evidence.gpkg from 'agrigis verify': per target, the area claimed complete that the imagery "
                   "disagrees with or did not observe.")
@registry_option
@lang_option
def progress_command(*, outdir: Path, as_of: str | None, year: int | None, targets: Path | None, rules: Path | None,
                     evidence: Path | None, registry: Path | None, lang: str) -> None:
    """Progress against the work-report targets: 目标任务进展 (Excel, CSV, HTML).

    Counts each target's land once (union of overlapping parcels), by county, with
    under-construction and planned land as pipeline, and the pace for the date. Flags
    (problems and information apart, by the land-use rules) include completed projects a
    field inspection contradicts; with --evidence, the imagery check per target.
    """
    from rich.console import Console

    with Console(stderr=True).status(label("tracking.working", lang)):
        out = run_progress(outdir, registry=registry, targets=targets, as_of=as_of, year=year, lang=lang,
                           extras=ProgressExtras(rules=rules, evidence=evidence))
    _print_table(out.result, lang, out.synthetic_batches)
    for p in out.paths.values():
        click.echo(str(p))
