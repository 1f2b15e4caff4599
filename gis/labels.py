"""Every label a person reads, in Chinese and English, in one table.

Code, identifiers and file names are English; what a person reads (legends, popups,
table headers, CLI messages) is Chinese by default and English with ``lang="en"``.
Add new labels to :data:`LABELS` in the section of your module; keys are dotted,
``"<section>.<name>"``.

Examples
--------
>>> label("status.completed")
'完工'
>>> label("status.completed", "en")
'completed'
>>> label("column.area_mu", "en")
'Area (mu)'
"""

from __future__ import annotations

from functools import lru_cache

from .errors import InputError

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

CATEGORIES: dict[str, tuple[str, str]] = {
    "high_standard_farmland": ("高标准农田", "High-standard farmland"),
    "paddy_new": ("新建水田", "New paddy"),
    "paddy_improved": ("改善水田", "Improved paddy"),
    "saline_demo_area": ("盐碱地综合利用示范片区", "Saline-alkali land demonstration area"),
    "new_cultivated_land": ("新增耕地", "New cultivated land"),
    "fertigation": ("水肥一体化", "Fertigation"),
    "conservation_tillage": ("保护性耕作", "Conservation tillage"),
    "deep_loosening": ("机械深松整地", "Mechanical deep loosening"),
    "seed_production": ("制种", "Seed production"),
    "afforestation": ("造林", "Afforestation"),
    "grassland_restoration": ("治理草原", "Grassland restoration"),
    "wetland_restoration": ("修复湿地", "Wetland restoration"),
    "greenhouse": ("新建棚室", "New greenhouses"),
    "courtyard_economy": ("庭院经济", "Courtyard economy"),
    "demo_base": ("示范基地", "Demonstration base"),
}
"""Project category codes (see DESIGN.md) → (中文, English)."""

CATEGORY_COLORS: dict[str, str] = {
    "high_standard_farmland": "#1b9e77",
    "paddy_new": "#1f78b4",
    "paddy_improved": "#6baed6",
    "saline_demo_area": "#d95f02",
    "new_cultivated_land": "#e6ab02",
    "fertigation": "#7570b3",
    "conservation_tillage": "#66a61e",
    "deep_loosening": "#a6761d",
    "seed_production": "#e7298a",
    "afforestation": "#006d2c",
    "grassland_restoration": "#b2df8a",
    "wetland_restoration": "#17becf",
    "greenhouse": "#bcbd22",
    "courtyard_economy": "#fb9a99",
    "demo_base": "#6a3d9a",
}
OTHER_COLOR = "#777777"
"""Category colours, the same on the field maps and in the registry's QGIS style."""

STATUSES: dict[str, tuple[str, str]] = {
    "planned": ("规划", "planned"),
    "approved": ("立项", "approved"),
    "under_construction": ("在建", "under construction"),
    "completed": ("完工", "completed"),
    "accepted": ("验收", "accepted"),
}
"""Project status codes in lifecycle order → (中文, English)."""

COUNTIES: dict[str, tuple[str, str]] = {
    "220802": ("洮北区", "Taobei District"),
    "220821": ("镇赉县", "Zhenlai County"),
    "220822": ("通榆县", "Tongyu County"),
    "220881": ("洮南市", "Taonan City"),
    "220882": ("大安市", "Da'an City"),
}
"""GB/T 2260 county codes of Baicheng (220800) → (中文, English)."""

LABELS: dict[str, tuple[str, str]] = {
    # --- common -------------------------------------------------------------------
    "app.name": ("agrigis 白城农业地理信息工具", "agrigis, Baicheng agricultural GIS toolkit"),
    "city.name": ("白城市", "Baicheng"),
    "synthetic.notice": ("演示数据(合成,非真实)", "demo data (synthetic, not real)"),
    "synthetic.label": ("合成数据", "synthetic data"),
    "unit.mu": ("亩", "mu"),
    "unit.wan_mu": ("万亩", "10k mu"),
    "unit.ha": ("公顷", "ha"),
    # --- columns (table headers) --------------------------------------------------
    "column.project_code": ("项目编号", "Project code"),
    "column.project_name": ("项目名称", "Project name"),
    "column.category": ("项目类型", "Category"),
    "column.county_code": ("行政区代码", "County code"),
    "column.county": ("县(市、区)", "County"),
    "column.year": ("建设年度", "Year"),
    "column.status": ("状态", "Status"),
    "column.declared_area_mu": ("申报面积(亩)", "Declared area (mu)"),
    "column.area_mu": ("面积(亩)", "Area (mu)"),
    "column.area_wan_mu": ("面积(万亩)", "Area (10k mu)"),
    "column.investment_wan_yuan": ("投资(万元)", "Investment (10k yuan)"),
    "column.batch_id": ("批次", "Batch"),
    "column.valid_from": ("生效时间", "Valid from"),
    "column.valid_to": ("失效时间", "Valid to"),
    # --- registry / import (layers.io, layers.registry, workflows.importing) --------
    "registry.file": ("文件", "file"),
    "registry.row": ("行", "row"),
    "registry.read": ("读取", "read"),
    "registry.accepted": ("接受", "accepted"),
    "registry.new": ("新增", "new"),
    "registry.updated": ("更新", "updated"),
    "registry.unchanged": ("未变", "unchanged"),
    "registry.repaired": ("修复", "repaired"),
    "registry.rejected": ("拒绝", "rejected"),
    "registry.batch": ("批次", "batch"),
    "registry.rejects_file": ("拒绝记录", "rejected rows"),
    "registry.note": ("提示", "note"),
    "registry.reading": ("读取文件", "reading"),
    "registry.checking": ("检查字段与县界", "checking fields and counties"),
    "registry.writing": ("写入登记库", "writing to the registry"),
    "registry.synthetic": ("合成数据批次(演示用,非真实)", "synthetic batch (demo data, not real)"),
    "registry.undone": ("已撤销批次", "undone batch"),
    "registry.deleted": ("删除版本", "versions deleted"),
    "registry.restored": ("恢复版本", "versions restored"),
    "registry.exported": ("已导出", "exported"),
    "registry.empty": ("登记库中还没有批次", "the registry holds no batches yet"),
    "registry.imported_at": ("导入时间", "imported at"),
    "registry.user": ("操作人", "user"),
    "registry.source": ("来源文件", "source file"),
    "registry.status": ("批次状态", "batch status"),
    "registry.more": ("… 另有 {n} 条", "… {n} more"),
    "registry.separator": (";", "; "),
    "registry.list_separator": ("、", ", "),
    # --- import messages: reject reasons and repairs (str.format templates; the
    # --- placeholders of both languages are the same, tests/test_labels.py checks it)
    "field.area": ("申报面积", "area"),
    "field.investment": ("投资", "investment"),
    "field.geometry": ("地块图形", "geometry"),
    "geometry.point": ("点", "点 point"),
    "geometry.line": ("线", "线 line"),
    "reject.no_code": (
        "列 {column!r} 中没有项目编号;每个地块都必须填写项目编号",
        "no project code in column {column!r}; every parcel needs a 项目编号",
    ),
    "reject.unknown_value": (
        ("{field} {value!r} 无法识别(列 {column!r});请填写以下名称之一:{choices}(或其英文代码),"
         "或用 --{option} 为整个文件统一指定,或将该值添加到 --mapping 映射文件中"),
        ("{field} {value!r} is unknown (column {column!r}); use one of {choices}, its Chinese name, --{option}, "
         "or add the value to a --mapping file"),
    ),
    "reject.empty_value": (
        ("{field}为空(列 {column!r});请填写以下名称之一:{choices}(或其英文代码),"
         "或用 --{option} 为整个文件统一指定,或将该值添加到 --mapping 映射文件中"),
        ("{field} empty (column {column!r}); use one of {choices}, its Chinese name, --{option}, "
         "or add the value to a --mapping file"),
    ),
    "reject.year_empty": (
        "建设年度为空(列 {column!r});请补填,或用 --year 为整个文件统一指定",
        "year is empty (column {column!r}); fill it in or give --year",
    ),
    "reject.year_invalid": (
        "建设年度 {value!r} 不是 {min_year} 至 {max_year} 之间的年份;请写成 2024 这样的四位年份",
        "year {value!r} is not a year between {min_year} and {max_year}; write it like 2024",
    ),
    "reject.not_a_number": (
        "{what} {value!r} 不是数字;请只填写数字,例如 1200.5",
        "{what} {value!r} is not a number; write digits only, e.g. 1200.5",
    ),
    "reject.negative_number": (
        "{what} {value!r} 为负数或不是有效数值;请填写正数",
        "{what} {value!r} is negative or not finite; give the area as a positive number",
    ),
    "reject.in_column": ("{problem}(列 {column!r})", "{problem} (column {column!r})"),
    "reject.unknown_county": (
        "县(市、区) {value!r}(列 {column!r})不属于白城市;请填写以下代码或名称之一:{choices}",
        "county {value!r} (column {column!r}) is not a county of Baicheng; use a code or name of {choices}",
    ),
    "reject.duplicate_code": (
        ("项目编号 {code!r} 在本文件中出现多次(第 {rows} 行)且属性不一致;"
         "请为每个地块分配独立的项目编号,或使同一项目各部分的属性保持一致"),
        ("project code {code!r} appears more than once in this file (rows {rows}) with different attributes; "
         "give each parcel its own code, or make the parts agree"),
    ),
    "reject.outside_city": (
        ("地块不在白城市范围内(仅 {pct:.0f}% 位于市界内;中心点经度 {lon:.4f}、纬度 {lat:.4f});"
         "请检查坐标系(--crs)、是否为高德 GCJ-02 坐标(--source-datum gcj02),或核实是否为白城市的项目"),
        ("parcel lies outside Baicheng (only {pct:.0f} % inside; centre at lon {lon:.4f}, lat {lat:.4f}); "
         "check the CRS (--crs), GCJ-02 coordinates (--source-datum gcj02), or whether it is a Baicheng "
         "project at all"),
    ),
    "reject.county_mismatch": (
        "填报的县(市、区)为 {declared},但地块大部分({pct:.0f}%)位于 {actual};请修改县(市、区)列或地块图形",
        ("declared county {declared} but the parcel lies mostly ({pct:.0f} %) in {actual}; fix the county "
         "column or the geometry"),
    ),
    "reject.registry_conflict": (
        ("项目编号 {code!r} 已在项目库中(批次 {batch}),但{fields}不同;如需登记为新版本,"
         "请加 --update 重新导入(旧版本作为历史记录保留)"),
        ("project code {code!r} is already in the registry (batch {batch}) with a different {fields}; to record "
         "this as a new version run the import again with --update (the old version is kept as history)"),
    ),
    "reject.wkt_unparsable": (
        "列 {column!r} 中的 WKT 无法解析({text!r}…);请检查括号和逗号,格式如 POLYGON((x y, x y, …, x y))",
        ("WKT in column {column!r} cannot be parsed ({text!r}…); check brackets and commas, "
         "e.g. POLYGON((x y, x y, …, x y))"),
    ),
    "reject.csv_point": (
        ("仅为一个点(每个地块只有一行经纬度),不是多边形;请逐行给出地块的各个拐点坐标(每个拐点一行,"
         "项目编号相同),或提供 WKT 多边形列"),
        ("a point (lon/lat columns with one row per parcel), not a polygon; give the parcel's vertices, one row "
         "per vertex with the same project code, or a WKT polygon column"),
    ),
    "reject.coordinate_not_number": (
        "CSV 第 {line} 行的坐标 {x!r}/{y!r} 不是数字",
        "coordinate {x!r}/{y!r} on CSV line {line} is not a number",
    ),
    "reject.too_few_vertices": (
        "只有 {n} 个拐点;多边形至少需要 3 个拐点",
        "only {n} vertices; a polygon needs at least 3",
    ),
    "reject.ring_too_short": (
        "多边形的边界环少于 4 个点(不构成闭合多边形);请重新绘制该地块",
        "a ring with fewer than 4 points (not a closed polygon); redraw the parcel",
    ),
    "reject.unreadable_geometry": (
        "图形无法读取({error});请重新绘制该地块",
        "unreadable geometry ({error}); redraw the parcel",
    ),
    "reject.empty_geometry": (
        "图形为空(没有坐标);请绘制该地块",
        "empty geometry (no coordinates); draw the parcel",
    ),
    "reject.not_polygon": (
        "图形是{kind}({geom_type}),不是多边形;地块必须是多边形(面)",
        "geometry is a {kind} ({geom_type}), not a polygon; parcels must be polygons",
    ),
    "reject.collection_without_polygon": (
        "几何集合中没有多边形;地块必须是多边形(面)",
        "geometry collection without any polygon; parcels must be polygons",
    ),
    "reject.collapses": (
        "多边形无效,修复后退化为空({why});请重新绘制该地块",
        "invalid polygon that collapses to nothing when repaired ({why}); redraw it",
    ),
    "repair.self_intersection": (
        "多边形自相交,已修复(make_valid,{why}),{change}",
        "self-intersecting ring repaired (make_valid, {why}), {change}",
    ),
    "repair.invalid": (
        "无效多边形已修复(make_valid,{why}),{change}",
        "{why} repaired (make_valid, {why}), {change}",
    ),
    "repair.area_change": ("面积变化 {pct:+.1f}%", "area {pct:+.1f} %"),
    "repair.zero_area": (
        "按原绘制计算的面积为 0,修复后覆盖其围成的各个多边形",
        "its signed area was 0 as drawn, now it covers the polygons enclosed",
    ),
    "repair.collection": (
        "几何集合:保留 {kept} 个多边形,删除 {dropped} 个其他部分",
        "geometry collection: kept {kept} polygon(s), dropped {dropped} other part(s)",
    ),
    "repair.z_dropped": ("已去除 Z 坐标(高程)", "Z coordinates dropped"),
    "repair.merged": (
        "项目编号 {code!r} 的 {n} 行(第 {rows} 行)属性相同,已合并为一个多部件多边形(MultiPolygon)",
        "{n} rows (rows {rows}) with project code {code!r} and the same attributes merged into one multipolygon",
    ),
    # --- import notes: how the encoding and the CRS were decided (layers.io,
    # --- workflows.importing); the same placeholders in both languages
    "note.encoding": ("文本编码:{how}", "text encoding: {how}"),
    "note.encoding_given": ("{enc}(由 --encoding 指定)", "{enc} (given)"),
    "note.encoding_cpg": ("{enc}(读自 {cpg})", "{enc} (from {cpg})"),
    "note.encoding_detected_no_cpg": ("{enc}(无 .cpg 文件,自动识别)", "{enc} (detected, no .cpg)"),
    "note.encoding_ascii_no_cpg": ("{enc}(无 .cpg 文件,属性均为 ASCII 字符)", "{enc} (plain ASCII, no .cpg)"),
    "note.encoding_gpkg": ("{enc}(GeoPackage 规定)", "{enc} (GeoPackage)"),
    "note.encoding_detected": ("{enc}(自动识别)", "{enc} (detected)"),
    "note.crs": ("坐标系:{crs_note}", "CRS: {crs_note}"),
    "note.crs_given": ("{crs}(由 --crs 指定)", "{crs} (given with --crs)"),
    "note.crs_declared": ("{crs}(文件中声明,已与坐标核对)", "{crs} (declared in the file, checked against the coordinates)"),
    "note.crs_no_coordinates": ("没有可供核对的坐标", "no coordinates to check"),
    "note.crs_guessed": ("推测为 {crs},依据:{reason}", "{crs} guessed: {reason}"),
    "note.no_crs": ("文件中未声明坐标系;{crs_note}", "no CRS in the file; {crs_note}"),
    "note.gcj02": ("高德 GCJ-02 坐标已转换为 CGCS2000", "coordinates converted from GCJ-02 (Amap/Gaode) to CGCS2000"),
    # --- why gis.crs.guess_crs chose a CRS (CRSGuess.reason_text); x, y are value ranges
    "crs.lonlat_china": (
        "坐标值 x {x}、y {y} 为中国境内的经纬度(度),按 {name} 处理",
        "values x {x}, y {y} are longitude/latitude in degrees in China; assumed {name}",
    ),
    "crs.lonlat_abroad": (
        "坐标值 x {x}、y {y} 为经纬度(度),但不在中国境内,按 {name} 处理",
        "values x {x}, y {y} are longitude/latitude in degrees (outside China); assumed {name}",
    ),
    "crs.web_mercator": (
        "坐标值 x {x}、y {y} 为 Web 墨卡托坐标(米),落在白城市范围内,按 {name} 处理(网络地图导出的数据)",
        "values x {x}, y {y} are Web Mercator metres that fall on Baicheng; assumed {name} (web-map export)",
    ),
    "crs.gk_zone_prefix": (
        "8 位东坐标 {x} 以高斯-克吕格投影带号 {zone} 开头,按 {name} 处理",
        "8-digit eastings {x} start with the Gauss-Krüger zone number {zone}; assumed {name}",
    ),
    "crs.gk_cm123": (
        ("6 位东坐标 {x}、北坐标 {y} 按中央经线 123°E 的高斯-克吕格投影落在白城市范围内,按 {name} 处理"
         "(UTM 51N 带的数据数值相近,但位置相差约 2 公里:如为 UTM 坐标,请用 --crs EPSG:32651 指定)"),
        ("6-digit eastings {x} with northings {y} fall on Baicheng as Gauss-Krüger CM 123°E; assumed {name} "
         "(UTM zone 51N data looks the same but lies ≈2 km off: then declare --crs EPSG:32651)"),
    ),
    "crs.swapped": (
        "坐标轴顺序颠倒(第一个值是纬度/北坐标):{reason}",
        "axes are swapped (first value is latitude/northing): {reason}",
    ),
    # --- CRSCheck.reason (gis.crs.check_crs); name is the declared CRS, x, y, lon, lat are value ranges
    "crs.check_no_coordinates": ("没有可与 {name} 核对的有效坐标", "no finite coordinates to check against {name}"),
    "crs.check_ok": (
        "按 {name},坐标落在中国境内(经度 {lon},纬度 {lat})",
        "coordinates in {name} fall in China (lon {lon}, lat {lat})",
    ),
    "crs.check_not_degrees": (
        "声明的坐标系为 {name},但 x {x}、y {y} 不是中国境内的经纬度(度)",
        "declared {name} but x {x}, y {y} are not degrees in China",
    ),
    "crs.check_outside": (
        "按声明的坐标系 {name},x {x}、y {y} 位于经度 {lon}、纬度 {lat},在中国境外",
        "declared {name} puts x {x}, y {y} at lon {lon}, lat {lat}, outside China",
    ),
    "crs.check_unplaceable": (
        "按声明的坐标系 {name},x {x}、y {y} 无法落在地球上",
        "declared {name} cannot place x {x}, y {y} on the Earth",
    ),
    "crs.check_no_guess": (
        "{why};请指定正确的坐标系(--crs EPSG:…)或修正 .prj 文件",
        "{why}; declare the right CRS (--crs EPSG:…) or fix the .prj",
    ),
    "crs.check_guess": ("{why};根据坐标推测:{guess}", "{why}; {guess}"),
    # --- errors (AgrigisError.of(key, …)); English word-for-word as str(exc), the CLI prints its --lang
    "error.prefix": ("错误", "error"),
    "error.file_not_found": ("{path}:找不到文件,请检查路径", "{path}: file not found; check the path"),
    "error.is_folder": (
        "{path} 是文件夹;请指定其中的文件(.shp、.gpkg、.geojson …)",
        "{path} is a folder; give the file inside it (.shp, .gpkg, .geojson …)",
    ),
    "error.file_empty": (
        "{path}:文件为空(0 字节);请重新复制或导出",
        "{path}: the file is empty (0 bytes); copy or export it again",
    ),
    "error.unknown_file_type": (
        "{path}:不支持的文件类型 {suffix!r};请提供 Shapefile(.shp 或 .zip)、GeoPackage、GeoJSON、KML/KMZ 或 CSV 文件",
        ("{path}: unknown file type {suffix!r}; give a Shapefile (.shp or .zip), GeoPackage, GeoJSON, "
         "KML/KMZ or CSV"),
    ),
    "error.encoding_undecodable": (
        "文本既不是 UTF-8 也不是 GBK/GB18030 编码(第 {start} 字节无法解码);请将文件另存为 UTF-8,或添加注明编码的 .cpg 文件",
        ("text is neither UTF-8 nor GBK/GB18030 (undecodable bytes at {start}); "
         "save the file as UTF-8 or add a .cpg file naming its encoding"),
    ),
    "error.cpg_unknown": (
        "{cpg}:未知的编码 {raw!r};请在 .cpg 文件中写入 UTF-8 或 GBK,或删除该文件",
        "{cpg}: unknown encoding {raw!r}; write UTF-8 or GBK into the .cpg file, or delete it",
    ),
    "error.dbf_truncated": (
        "{dbf}:.dbf 文件不完整(仅 {size} 字节);请重新导出该图层",
        "{dbf}: the .dbf is truncated ({size} bytes); export the layer again",
    ),
    "error.columns_undecodable": (
        ("{path}:文本无法按 {encoding} 解码({reason},第 {start} 字节);以 UTF-8 保存的 Shapefile 中,"
         "超过 10 字节的列名会在汉字中间被截断。请把列名改短(如 项目编号 → XMBH),或将图层另存为 GBK 编码"
         "(或 GeoPackage),或用 --encoding 指定正确的编码"),
        ("{path}: text cannot be decoded as {encoding} ({reason} at byte {start}); "
         "Shapefile column names longer than 10 bytes are cut inside a Chinese character when saved as "
         "UTF-8. Rename the columns to short names (e.g. 项目编号 → XMBH) or save the layer as GBK "
         "(or as a GeoPackage), or give the right --encoding"),
    ),
    "error.vector_unreadable": (
        "{path}:无法作为矢量文件读取({detail});请在 QGIS 中打开检查,或重新导出",
        "{path}: cannot be read as a vector file ({detail}); open it in QGIS to check it, or export it again",
    ),
    "error.dbf_missing": (
        "{path}:缺少属性文件 {name};请将 Shapefile 的各个文件(.shp .shx .dbf .prj .cpg)一起复制",
        ("{path}: the attribute file {name} is missing; "
         "copy all parts of the Shapefile (.shp .shx .dbf .prj .cpg) together"),
    ),
    "error.shx_missing": (
        "{path}:缺少索引文件 {name};请将 Shapefile 的各个文件(.shp .shx .dbf .prj .cpg)一起复制",
        ("{path}: the index file {name} is missing; "
         "copy all parts of the Shapefile (.shp .shx .dbf .prj .cpg) together"),
    ),
    "error.shp_too_short": (
        "{shp}:.shp 文件不完整({size} 字节,文件头需要 100 字节);请重新导出",
        "{shp}: the .shp is truncated ({size} bytes, header needs 100); export it again",
    ),
    "error.shp_bad_code": (
        "{shp}:不是 Shapefile 文件(文件标识码 {code} 不对);请重新导出",
        "{shp}: not a Shapefile (bad file code {code}); export it again",
    ),
    "error.shp_size_mismatch": (
        "{shp}:.shp 文件被截断或有多余内容:文件头记载 {declared} 字节,实际有 {size} 字节;请重新复制或导出",
        ("{shp}: the .shp is truncated or padded: its header says {declared} bytes, the file has {size}; "
         "copy or export it again"),
    ),
    "error.shx_mismatch": (
        ("{shx}:索引列出 {n} 条记录,但第 {bad} 条记录超出了 {shp} 的末尾({size} 字节);"
         ".shx 与 .shp 不配套,或 .shp 文件不完整。请重新导出该 Shapefile"),
        ("{shx}: the index lists {n} records but record {bad} lies beyond the end of "
         "{shp} ({size} bytes); the .shx and .shp do not belong together, or the .shp is "
         "truncated. Export the Shapefile again"),
    ),
    "error.gpkg_unreadable": (
        "{path}:不是可读取的 GeoPackage({detail});请重新导出",
        "{path}: not a readable GeoPackage ({detail}); export it again",
    ),
    "error.gpkg_no_geometry": (
        "{path}:该 GeoPackage 中没有含几何图形的图层",
        "{path}: the GeoPackage has no layer with geometry",
    ),
    "error.gpkg_several_layers": (
        "{path}:该 GeoPackage 有 {n} 个图层({layers});请用 --layer 图层名 选择其中一个",
        "{path}: the GeoPackage has {n} layers ({layers}); choose one with --layer NAME",
    ),
    "error.gpkg_no_layer": (
        "{path}:没有图层 {layer!r};现有图层为 {layers}",
        "{path}: no layer {layer!r}; its layers are {layers}",
    ),
    "error.kml_unreadable": (
        "{path}:不是可读取的 KML 文件({detail});请重新导出",
        "{path}: not a readable KML file ({detail}); export it again",
    ),
    "error.kml_empty": ("{path}:该 KML 中没有任何地标(placemark)", "{path}: the KML holds no placemarks"),
    "error.csv_unreadable": (
        "{path}:无法作为 CSV 读取({detail});请另存为“CSV UTF-8”格式",
        "{path}: cannot be read as CSV ({detail}); save it as CSV UTF-8",
    ),
    "error.csv_no_geometry": (
        ("{path}:没有几何列;CSV 需要一个 WKT 列(wkt/geometry),或经度、纬度两列"
         "(经度/纬度、x/y);现有的列为 {columns}"),
        ("{path}: no geometry column; a CSV needs a WKT column (wkt/geometry) or lon and lat columns "
         "(经度/纬度, x/y); found {columns}"),
    ),
    "error.archive_unsafe": (
        "{path}:压缩包内有不安全的路径 {name!r};未解压",
        "{path}: unsafe path {name!r} inside the archive; not unpacked",
    ),
    "error.archive_invalid": (
        "{path}:不是有效的 {kind}(zip)压缩包;请重新导出",
        "{path}: not a valid {kind} (zip) archive; export it again",
    ),
    "error.archive_no_layer": (
        "{path}:压缩包中没有 .shp、.gpkg、.geojson、.kml 或 .csv 文件;请将整个图层重新压缩",
        "{path}: the archive holds no .shp, .gpkg, .geojson, .kml or .csv file; zip the whole layer again",
    ),
    "error.archive_no_kml": (
        "{path}:压缩包中没有 .kml 文档;请将整个图层重新压缩",
        "{path}: the archive holds no .kml document; zip the whole layer again",
    ),
    "error.archive_several_layers": (
        "{path}:压缩包中有多个图层({names});请解压后逐个导入",
        "{path}: the archive holds several layers ({names}); unzip it and import one",
    ),
    "error.encoding_unknown": (
        "--encoding {encoding!r} 不是可识别的编码;请使用 UTF-8、GBK 或 GB18030",
        "--encoding {encoding!r} is not an encoding Python knows; use UTF-8, GBK or GB18030",
    ),
    "error.source_datum": (
        "--source-datum {value!r}:只能为 gcj02(高德坐标),或不指定",
        "--source-datum {value!r}: use gcj02 (Amap/Gaode) or leave it out",
    ),
    "error.crs_given_unknown": (
        "--crs {given!r} 不是可识别的坐标系;请给出 EPSG 代码,如 EPSG:4529",
        "--crs {given!r} is not a CRS pyproj knows; give an EPSG code like EPSG:4529",
    ),
    "error.crs_mismatch": (
        "{source}:{what}与坐标不符:{reason}{fix}",
        "{source}: {what} does not fit the coordinates: {reason}{fix}",
    ),
    "error.crs_what_given": ("--crs {crs} 指定的坐标系", "--crs {crs}"),
    "error.crs_what_declared": ("文件中声明的坐标系", "the file's declared CRS"),
    "error.crs_fix": (
        ";如果推测正确,请用 --crs EPSG:{code} 导入{swap},或修正 .prj 文件",
        "; if that is right, import with --crs EPSG:{code}{swap} or fix the .prj",
    ),
    "error.crs_fix_swapped": ("(坐标轴顺序也颠倒了:请修正文件)", " (axes swapped too: fix the file)"),
    "error.no_crs_declared": ("{source}:文件未声明坐标系,且{problem}", "{source}: no CRS declared and {problem}"),
    "error.crs_no_coordinates": (
        "无法判断坐标系:没有有效的坐标;请检查文件是否含有几何图形",
        "cannot tell the coordinate system: there are no finite coordinates; check that the file has geometry",
    ),
    "error.crs_ambiguous": (
        ("无法判断 x {x}、y {y} 的坐标系:既不是中国境内的经纬度(度),也不是带投影带号的高斯-克吕格坐标(米),"
         "也不是落在白城市的中央经线 123°E 坐标(米);请指定坐标系,如 --crs EPSG:4529(高斯-克吕格 41 带,带带号)、"
         "--crs EPSG:4550(中央经线 123°E,不带带号)或 --crs EPSG:4490(经纬度),或在 Shapefile 旁放上 .prj 文件"),
        ("cannot tell the coordinate system of x {x}, y {y}: they are neither "
         "lon/lat degrees in China, nor Gauss-Krüger metres with a zone prefix, nor CM 123°E "
         "metres on Baicheng; declare it, e.g. --crs EPSG:4529 (GK zone 41 with prefix), "
         "--crs EPSG:4550 (CM 123°E, no prefix) or --crs EPSG:4490 (lon/lat), "
         "or put a .prj file next to the shapefile"),
    ),
    "error.crs_declared_unparsable": (
        "无法识别文件中声明的坐标系 {crs!r}:{detail}",
        "cannot understand the declared CRS {crs!r}: {detail}",
    ),
    "error.unknown_category": (
        "--category {value!r} 不是已知的项目类别;请使用以下之一:{choices}",
        "--category {value!r} is unknown; use one of {choices}",
    ),
    "error.unknown_status": (
        "--status {value!r} 不是已知的项目状态;请使用以下之一:{choices}",
        "--status {value!r} is unknown; use one of {choices}",
    ),
    "error.year_option": ("--year 选项有误:{problem}", "--year: {problem}"),
    "error.mapping_missing": (
        "字段对照文件 {path} 不存在;请给出 YAML 文件的路径",
        "mapping file {path} does not exist; give the path of a YAML file",
    ),
    "error.mapping_not_a_mapping": (
        "{source}:字段对照文件必须是含 columns / values 键的 YAML 映射",
        "{source}: a mapping file must be a YAML mapping with keys columns / values",
    ),
    "error.mapping_unknown_keys": (
        "{source}:未知的键 {keys};请使用 columns、values、area_units",
        "{source}: unknown key(s) {keys}; use columns, values, area_units",
    ),
    "error.mapping_not_a_field": (
        "{source}:columns:{field!r} 不是项目库的字段;请使用以下之一:{choices}",
        "{source}: columns: {field!r} is not a registry field; use one of {choices}",
    ),
    "error.mapping_unknown_kind": (
        "{source}:values:{kind!r} 无法识别;请使用 category 或 status",
        "{source}: values: {kind!r} is unknown; use category or status",
    ),
    "error.mapping_not_a_code": (
        "{source}:values.{kind}:{code!r} 不是 {kind} 代码;请使用以下之一:{choices}",
        "{source}: values.{kind}: {code!r} is not a {kind} code; use one of {choices}",
    ),
    "error.mapping_unit": (
        "{source}:area_units:列 {column!r} 的单位 {unit!r} 无法识别;请使用以下之一:{choices}",
        "{source}: area_units: unit {unit!r} of {column!r}; use one of {choices}",
    ),
    "error.mapping_not_a_list": (
        "{source}:此处应为名称列表,实际为 {names!r}",
        "{source}: expected a list of names, got {names!r}",
    ),
    "error.no_code_column": (
        ("{source}:没有项目编号列;现有的列为 {columns}。"
         "请将其中一列改名为 项目编号 或 project_code,或用 --mapping 指定(columns: project_code: [列名])"),
        ("{source}: no project code column; found columns {columns}. "
         "Rename one to 项目编号 or project_code, or map it with --mapping (columns: project_code: [NAME])"),
    ),
    "error.no_field_column": (
        "{source}:没有{field}列,也没有 {option} 选项;请用 {option} 为整个文件指定,或按 layers/fields.yml 为列命名",
        ("{source}: no {field} column and no {option} option; give {option} for the whole file "
         "or name a column as in layers/fields.yml"),
    ),
    "error.field_category": ("项目类别", "category"),
    "error.field_year": ("年度", "year"),
    "error.field_status": ("项目状态", "status"),
    "error.registry_missing": (
        ("项目库 {path} 不存在;请先导入地块(agrigis import 文件 --registry {path}),"
         "或用 --registry 指定项目库,或用 agrigis demo 生成演示工作区"),
        ("registry {path} does not exist; import parcels first (agrigis import FILE --registry {path}), "
         "pass --registry, or build a demo workspace with agrigis demo"),
    ),
    "error.registry_cannot_open": ("{path}:无法打开项目库({detail})", "{path}: cannot open the registry ({detail})"),
    "error.registry_locked": (
        "项目库忙:{path} 被另一个进程锁定;请稍后再试",
        "registry busy: {path} is locked by another process; try again",
    ),
    "error.registry_busy": (
        "项目库忙:另一个进程写入 {path} 已超过 {timeout:g} 秒;未做任何修改,请等其完成后再试",
        ("registry busy: another process has been writing to {path} for more than "
         "{timeout:g} s; nothing was changed, try again when it has finished"),
    ),
    "error.registry_not_gpkg": (
        "{path}:不是项目库 GeoPackage({detail});请用 --registry 指定其他路径",
        "{path}: not a registry GeoPackage ({detail}); give another --registry path",
    ),
    "error.registry_not_agrigis": (
        "{path}:是 GeoPackage,但不是 agrigis 项目库(没有 projects/batches 表);请用 --registry 指定其他路径",
        ("{path}: a GeoPackage but not an agrigis registry (no projects/batches tables); "
         "give another --registry path"),
    ),
    "error.no_batch": (
        "{path} 中没有批次 {batch_id!r};可用 agrigis registry list 列出所有批次",
        "no batch {batch_id!r} in {path}; list them with: agrigis registry list",
    ),
    "error.batch_undone": ("批次 {batch_id} 已撤销过,无需再撤销", "batch {batch_id} was already undone; nothing to do"),
    "error.batch_replaced": (
        "批次 {batch_id} 无法撤销:其部分地块已被后来的批次 {names} 替换;请先撤销 {names}",
        ("batch {batch_id} cannot be undone: later batch(es) {names} replaced some of its parcels; "
         "undo {names} first"),
    ),
    "error.no_project": ("{path} 中没有项目 {code!r}", "no project {code!r} in {path}"),
    "error.no_key": (
        "{name!r} 既不是批次号,也不是 {path} 中现有项目的编号;可用 agrigis registry list 列出批次",
        ("{name!r} is neither a batch id nor a current project code in {path}; "
         "list batches with: agrigis registry list"),
    ),
    "error.export_format": (
        "{path}:不支持的导出格式 {suffix!r};请使用 .gpkg、.shp、.geojson、.csv 或 .xlsx",
        "{path}: unknown export format {suffix!r}; use .gpkg, .shp, .geojson, .csv or .xlsx",
    ),
    "error.rejects_replace": (
        "无法替换旧的退回文件 {path}:{detail};请删除或改名后重新导入(未导入任何数据)",
        ("cannot replace the old rejects file {path}: {detail}; delete or "
         "rename it and import again (nothing was imported)"),
    ),
    "error.rejects_write": (
        "无法在输入文件旁写入退回的行({folder}):{detail};未导入任何数据。请将文件复制到有写入权限的文件夹后再导入",
        ("cannot write the rejected rows beside the input ({folder}): {detail}; nothing was imported. "
         "Copy the file to a folder you can write to and import it from there"),
    ),
    # -- outputs (gis.outputs): every file agrigis writes -------------------------------
    "error.output_folder": (
        "无法创建输出文件夹 {path}:{detail};请换一个有写入权限的文件夹(-o)",
        "cannot create the output folder {path}: {detail}; choose a folder you can write to (-o)",
    ),
    "error.output_disk_full": (
        "{path}:磁盘已满,未写入;原有文件保持不变。请腾出空间或换一个磁盘后重新运行",
        "{path}: the disk is full; nothing was written and the previous file is unchanged. "
        "Free some space or choose another disk and run again",
    ),
    "error.output_permission": (
        "无法写入 {path}:{detail};如果该文件正在 Excel 等程序中打开,请关闭后重新运行,或换一个有写入权限的文件夹",
        "cannot write {path}: {detail}; close the file if it is open in Excel or another program and run again, "
        "or choose a folder you can write to",
    ),
    "error.output_failed": (
        "无法写入 {path}:{detail};原有文件保持不变",
        "cannot write {path}: {detail}; the previous file is unchanged",
    ),
    # -- registry integrity (layers.registry: export, verify, storage faults) ----------
    "error.registry_disk_full": (
        "{path}:磁盘已满,项目库未做任何修改;请腾出空间后重新运行",
        "{path}: the disk is full; the registry was not changed. Free some space and run again",
    ),
    "error.registry_read_only": (
        "{path}:项目库只读({detail}),未做任何修改;请取得写入权限,或将其复制到可写的文件夹并用 --registry 指定",
        ("{path}: the registry is read-only ({detail}); nothing was changed. Get write permission, "
         "or copy it to a folder you can write to and pass --registry"),
    ),
    "error.registry_corrupt": (
        "{path}:项目库文件已损坏({detail});请勿继续写入,用备份恢复该文件",
        "{path}: the registry file is damaged ({detail}); stop writing to it and restore it from a backup",
    ),
    "error.registry_schema": (
        ("{path}:项目库的 {table} 表缺少列 {columns}(由其他程序生成或已被改动);"
         "请用备份恢复,或用 --registry 指定其他项目库"),
        ("{path}: table {table} of the registry lacks the columns {columns} (made by another program or "
         "altered); restore it from a backup or pass another --registry"),
    ),
    "error.registry_storage": (
        "{path}:无法读写项目库({detail}),未做任何修改;请检查磁盘与文件权限后重试",
        "{path}: cannot read or write the registry ({detail}); nothing was changed. Check the disk and "
        "the file's permissions and try again",
    ),
    "error.export_is_registry": (
        "{path} 就是项目库本身({registry}),不能导出到其上;请换一个输出文件名(项目库未改动)",
        "{path} is the registry itself ({registry}); choose another output file name (the registry "
        "was not changed)",
    ),
    "error.export_exists": (
        ("{path} 已存在,且不是 agrigis registry export 导出的文件,未覆盖;"
         "请换一个输出文件名,或加 --force 替换该文件"),
        ("{path} already exists and was not written by agrigis registry export, so it was not "
         "overwritten; choose another output name, or add --force to replace it"),
    ),
    "registry.export_mark": ("agrigis 项目库导出(agrigis registry export)", "agrigis registry export"),
    "registry.verify_ok": (
        "{n} 个版本均与登记时的指纹一致,面积与图形相符",
        "all {n} versions match their fingerprints; areas agree with the geometry",
    ),
    "registry.verify_found": (
        "发现 {n} 处问题(项目库被手工改动过);要记录改动,请用 agrigis import --update 重新导入正确的地块",
        ("{n} problem(s) found (the registry was edited by hand); to record a change, import the "
         "corrected parcels with agrigis import --update"),
    ),
    "registry.problem": ("问题", "problem"),
    "verify.no_fingerprint": ("无指纹(手工添加的行)", "no fingerprint (row added by hand)"),
    "verify.geometry_edited": ("图形被改动", "geometry edited"),
    "verify.attributes_edited": ("属性被改动", "attributes edited"),
    "verify.area_stale": (
        "面积(亩)与图形不符:记录 {stored} 亩,按图形计算 {computed} 亩",
        "area_mu does not match the geometry: stored {stored} mu, computed {computed} mu",
    ),
    "verify.rows_missing": (
        "批次 {batch} 写入了 {expected} 个版本,现只剩 {found} 个(有行被删除)",
        "batch {batch} wrote {expected} versions, {found} remain (rows were deleted)",
    ),
    "check.registry_edit": ("项目库被手工改动", "registry edited by hand"),
    # -- import hardening (layers.io, layers.fields, workflows.importing) ---------------
    "repair.control_chars": (
        "已删除 {columns} 中的控制字符(如从 Word 粘贴带入的不可见字符)",
        "control characters removed from {columns}",
    ),
    "note.column_control_chars": (
        "列名 {raw!r} 含控制字符,已改为 {name!r}",
        "column name {raw!r} cleaned to {name!r} (control characters removed)",
    ),
    "note.column_renamed": (
        "源文件的列 {raw!r} 与 agrigis 使用的列名重名,在退回文件中改称 {name!r}",
        "source column {raw!r} is called {name!r} here (agrigis uses that name itself)",
    ),
    "repair.decimal_comma": (
        "{what} {raw!r} 按 {value} 读取:逗号视为小数点(千位分隔应为每三位一组,如 1,234)",
        "{what} {raw!r} read as {value}: the comma is taken as a decimal point (thousands are grouped in threes, "
        "like 1,234)",
    ),
    "reject.number_comma": (
        "{what} {value!r} 中的逗号既不是千位分隔(1,234.5),也不是唯一的小数逗号(12,5);请写成 1234.5 这样的数字",
        "{what} {value!r}: the commas are neither thousands groups (1,234.5) nor one decimal comma (12,5); "
        "write the number like 1234.5",
    ),
    "repair.code_normalised": (
        "项目编号 {raw!r} 已规范为 {code!r}(全角字符与空格已规范化)",
        "project code {raw!r} written as {code!r} (full-width characters and spaces normalised)",
    ),
    "reject.near_duplicate_code": (
        ("项目编号 {code!r} 与 {other!r}(第 {rows} 行)仅在大小写、空格、连字符或下划线上不同;"
         "同一项目请使用完全相同的编号,不同项目请使用明显不同的编号"),
        ("project code {code!r} differs from {other!r} (rows {rows}) only in case, spaces, hyphens or underscores; "
         "write one project's code the same way everywhere, or give the projects clearly different codes"),
    ),
    "reject.code_float_digits": (
        ("项目编号 {value} 以浮点数存储且大于 2^53({limit}),末几位数字可能已经失真(列 {column!r});"
         "请将项目编号存为文本后重新导出该文件"),
        ("project code {value} is stored as a floating-point number above 2^53 ({limit}), so its last digits "
         "may be wrong (column {column!r}); store project codes as text and export the file again"),
    ),
    "error.csv_field_too_large": (
        "{path}:某个单元格超过 {limit} MB,无法读取;请检查该文件是否损坏,或将超大的几何图形另存为 GeoPackage",
        "{path}: a cell is larger than {limit} MB and cannot be read; check the file, or save huge geometries "
        "as a GeoPackage",
    ),
    "error.archive_too_many_entries": (
        "{path}:压缩包中有 {n} 个条目,超过上限 {limit};请只压缩要导入的图层",
        "{path}: the archive holds {n} entries; more than {limit} is refused. Zip only the layer to import",
    ),
    "error.archive_too_large": (
        "{member}:解压后共 {size} 字节,超过上限 {limit} 字节;未解压。请只压缩要导入的图层,或解压后直接导入",
        "{member}: unpacking would write {size} bytes, more than the {limit} bytes allowed; nothing was unpacked. "
        "Zip only the layer to import, or unzip it and import the files",
    ),
    "error.archive_ratio": (
        "{member}:从 {packed} KB 解压为 {size} MB(压缩比 {ratio}:1,上限 {limit}:1),疑似压缩炸弹;未解压",
        "{member}: expands to {size} MB from {packed} KB (ratio {ratio}:1, more than {limit}:1 is refused as a "
        "zip bomb); nothing was unpacked",
    ),
    "error.archive_member_corrupt": (
        "{member}:压缩包中的该文件已损坏({detail});请重新压缩后导入",
        "{member}: the file is corrupt inside the archive ({detail}); zip the layer again",
    ),
    "error.archive_unpack_disk_full": (
        "无法解压 {member}:临时文件夹 {folder} 所在磁盘已满;请腾出空间,或将 TMPDIR 设为空间更大的文件夹",
        "cannot unpack {member}: the temporary folder {folder} is full; free some space or set TMPDIR to a "
        "folder on a larger disk",
    ),
    "error.archive_unpack_failed": (
        "无法将 {member} 解压到临时文件夹 {folder}:{detail}",
        "cannot unpack {member} into the temporary folder {folder}: {detail}",
    ),
    "error.rejects_gpkg_failed": (
        "无法写入退回文件 {path}:{detail};未导入任何数据",
        "cannot write the rejects file {path}: {detail}; nothing was imported",
    ),
    # -- configuration files (gis.config: YAML, targets, suitability) ------------------
    "config.what_catalog": ("图层目录", "layer catalogue"),
    "config.what_mapping": ("字段对照文件", "mapping file"),
    "config.what_targets": ("目标文件", "targets file"),
    "config.what_suitability": ("适宜性配置", "suitability configuration"),
    "config.what_scheme": ("分类方案", "classification scheme"),
    "config.what_fields": ("字段对照表", "field table"),
    "config.type_mapping": ("映射(键: 值)", "a mapping (key: value)"),
    "config.type_list": ("列表", "a list"),
    "config.type_number": ("有限的数字", "a finite number"),
    "config.type_text": ("文本", "text"),
    "config.type_names": ("名称或名称列表", "a name or a list of names"),
    "error.config_type": ("{path}:{at} 应为{expected},而不是 {got!r}", "{path}: {at} must be {expected}, not {got!r}"),
    "error.config_unreadable": ("无法读取{what} {path}:{detail}", "cannot read the {what} {path}: {detail}"),
    "error.config_too_big": (
        "{path}:{what}有 {size} 字节,而配置文件最多 {limit} 字节;请确认文件是否选对",
        "{path}: the {what} has {size} bytes, more than the {limit} a configuration file may have; is it the right file?",
    ),
    "error.config_encoding": (
        "{path}:{what}不是 UTF-8 文本(第 {line} 行){hint};请将其另存为 UTF-8 编码(如记事本:另存为 → 编码选 UTF-8)",
        "{path}: the {what} is not UTF-8 text (line {line}){hint}; save it as UTF-8 (e.g. Notepad: Save As → Encoding: UTF-8)",
    ),
    "error.config_gbk_hint": (",看起来是 GBK 编码", " and looks GBK-encoded"),
    "error.config_yaml": ("{path}:不是有效的 YAML{where}:{detail}", "{path}: not valid YAML{where}: {detail}"),
    "error.config_expansion": (
        "{path}{where}:YAML 别名(*名称)展开后超过 {limit} 个值;请直接写出这些值,不要层层引用锚点",
        "{path}{where}: the YAML aliases (*name) expand to more than {limit} values; write the values out instead of repeating anchors",
    ),
    "error.config_recursive_alias": (
        "{path}{where}:YAML 别名 *{anchor} 引用了它自身所在的值",
        "{path}{where}: the YAML alias *{anchor} refers to the value it is part of",
    ),
    "error.config_too_deep": ("{path}{where}:YAML 嵌套超过 {limit} 层", "{path}{where}: the YAML is nested more than {limit} levels deep"),
    "error.config_tag": (
        "{path}{where}:不允许使用 YAML 标签 {tag!r};配置文件只能包含文本、数字、true/false、列表和映射",
        "{path}{where}: the YAML tag {tag!r} is not allowed; a configuration holds only text, numbers, true/false, lists and mappings",
    ),
    "error.targets_not_finite": (
        "字段 '{name}' 必须是有限的数字,实际为 {value!r}(数值过大或不是数字)",
        "field '{name}' must be a finite number, got {value!r} (too large, or not a number)",
    ),
    "error.suit_grid_too_fine": (
        ("{origin}:grid.resolution_m {res:g} 米太细:{layer} 的范围({area_km2:.4g} 平方公里)需要 {cells:.3g} 个格子,"
         "上限为 {limit:.3g};请使用不小于 {min_res:g} 米的分辨率"),
        ("{origin}: grid.resolution_m {res:g} m is too fine: the extent of {layer} ({area_km2:.4g} km²) would need "
         "{cells:.3g} cells, more than {limit:.3g}; use a resolution of at least {min_res:g} m"),
    ),
    "error.suit_distance_too_far": (
        ("{where}:距离达 {dist:g} 米,在 {res:g} 米的网格上需要 {cells:.3g} 个格子,上限为 {limit:.3g};"
         "请减小 scores 中最大的距离或使用更粗的 grid.resolution_m"),
        ("{where}: distances up to {dist:g} m on a {res:g} m grid need {cells:.3g} cells, more than {limit:.3g}; "
         "lower the largest distance in scores or use a coarser grid.resolution_m"),
    ),
    # -- imagery (layers.imagery, gis.masks, workflows.imagery) ------------------------
    "error.imagery_not_product": (
        "{path}:不是 Sentinel-2 L2A 或 Landsat 第2集 Level-2 产品(找不到 MTD_MSIL2A.xml 或 *_MTL.xml/*_MTL.txt)",
        "{path}: not a Sentinel-2 L2A or Landsat Collection 2 Level-2 product "
        "(no MTD_MSIL2A.xml or *_MTL.xml/*_MTL.txt found)",
    ),
    "error.imagery_level": (
        "{path}:这是 {found} 产品;agrigis 只读取地表反射率产品({need}),请下载 Level-2 产品",
        "{path}: this is a {found} product; agrigis reads only surface-reflectance products ({need}); "
        "download the Level-2 product",
    ),
    "error.imagery_missing_band": (
        "{path}:产品缺少波段 {band}({file});请重新下载完整的产品",
        "{path}: band {band} ({file}) is missing from the product; download the complete product again",
    ),
    "error.imagery_missing_file": (
        "{path}:产品缺少元数据文件 {file};请重新下载完整的产品",
        "{path}: the metadata file {file} is missing from the product; download the complete product again",
    ),
    "error.imagery_truncated": (
        "{path}:压缩包已损坏或不完整({detail});请重新下载",
        "{path}: the archive is damaged or incomplete ({detail}); download it again",
    ),
    "error.imagery_xml": (
        "{path}:元数据文件 {file} 不是有效的 XML({detail});请重新下载该产品",
        "{path}: the metadata file {file} is not valid XML ({detail}); download the product again",
    ),
    "error.imagery_xml_unsafe": (
        "{path}:元数据文件 {file} 含有 DTD 或实体声明({detail}),出于安全原因拒绝读取;官方产品不含这些内容,请重新下载",
        "{path}: the metadata file {file} declares a DTD or entities ({detail}) and was refused for safety; "
        "genuine products have none, download the product again",
    ),
    "error.imagery_metadata_field": (
        "{path}:元数据 {file} 缺少 {field};请重新下载该产品",
        "{path}: the metadata {file} lacks {field}; download the product again",
    ),
    "error.imagery_no_products": (
        "在 {folders} 中没有找到可用的 Level-2 产品",
        "no usable Level-2 product found in {folders}",
    ),
    "error.imagery_bounds": (
        "--bounds {value}:请给出四个数 xmin,ymin,xmax,ymax,且 xmin < xmax、ymin < ymax(单位为 --crs 的坐标)",
        "--bounds {value}: give four numbers xmin,ymin,xmax,ymax with xmin < xmax and ymin < ymax "
        "(in the coordinates of --crs)",
    ),
    "error.imagery_res": (
        "--res {value}:分辨率必须是大于 0 的米数",
        "--res {value}: the resolution must be a number of metres greater than 0",
    ),
    "error.imagery_scl_class": (
        "SCL 类别 {classes} 不存在;有效类别为 0–11",
        "SCL class(es) {classes} do not exist; the classes are 0–11",
    ),
    "error.imagery_qa_flag": (
        "未知的 QA_PIXEL 标志 {flag};可用:{known}",
        "unknown QA_PIXEL flag {flag}; known: {known}",
    ),
    "error.imagery_stack_output": (
        "{path}:影像堆栈只能写为 NetCDF(.nc)",
        "{path}: an image stack can only be written as NetCDF (.nc)",
    ),
    "error.imagery_composite": (
        "合成选项 {option} = {value} 无效;可用:{choices}",
        "composite option {option} = {value} is not valid; use one of {choices}",
    ),
    "imagery.skipped": ("已跳过:{reason}", "skipped: {reason}"),
    "imagery.found": ("找到 {n} 个产品,跳过 {skipped} 个", "{n} product(s) found, {skipped} skipped"),
    "imagery.written": ("已写入 {path}", "written: {path}"),
    "imagery.col.sensor": ("卫星", "Sensor"),
    "imagery.col.date": ("成像时间(UTC)", "Acquired (UTC)"),
    "imagery.col.tile": ("图幅/轨道号", "Tile / path-row"),
    "imagery.col.baseline": ("处理基线", "Baseline"),
    "imagery.col.cloud_percent": ("云量(%)", "Cloud (%)"),
    "imagery.col.product_id": ("产品编号", "Product id"),
    "imagery.col.valid_percent": ("有效像元(%)", "Valid cells (%)"),
    "imagery.sheet": ("影像产品", "Products"),
    "error.yaml_at_line": ("(第 {line} 行)", " at line {line}"),
    "error.catalog_top_keys": (
        "{path}:未知的顶层键 {keys};图层目录只有一个键 layers,其下为条目列表",
        "{path}: unknown top-level key(s) {keys}; the catalogue has one key, 'layers', holding a list of entries",
    ),
    "error.catalog_not_a_list": (
        "{path}:layers 必须是条目列表(- name: …),而不是 {type}",
        "{path}: 'layers' must be a list of entries (- name: …), not {type}",
    ),
    "error.catalog_entry": ("{path},第 {i} 项", "{path}, entry {i}"),
    "error.catalog_entry_named": ("{path},第 {i} 项({name!r})", "{path}, entry {i} ({name!r})"),
    "error.catalog_not_a_mapping": (
        "{where}:此处应为映射(name: …, kind: …),实际为 {item!r}",
        "{where}: expected a mapping (name: …, kind: …), got {item!r}",
    ),
    "error.catalog_missing_keys": (
        "{where}:缺少必需的键 {keys};每个条目都需要 {required}",
        "{where}: missing required key(s) {keys}; every entry needs {required}",
    ),
    "error.catalog_unknown_keys": (
        "{where}:未知的键 {keys};允许的键为 {allowed}",
        "{where}: unknown key(s) {keys}; allowed keys are {allowed}",
    ),
    "error.catalog_duplicate_name": (
        "{where}:名称 {name!r} 在此图层目录中重复使用",
        "{where}: the name {name!r} is used twice in this catalogue",
    ),
    "error.catalog_unknown_kind": (
        "{where}:未知的类型 {kind!r};请使用 vector 或 raster",
        "{where}: unknown kind {kind!r}; use 'vector' or 'raster'",
    ),
    "error.catalog_synthetic": (
        "{where}:synthetic 必须是 true 或 false,而不是 {value!r}",
        "{where}: synthetic must be true or false, not {value!r}",
    ),
    "error.catalog_not_text": ("{where}:{field} 必须是文本,而不是 {value!r}", "{where}: {field} must be text, not {value!r}"),
    "error.catalog_crs": (
        "{where}:crs {crs!r} 不是已知的坐标系({detail});请写成 EPSG:4490 这样的形式",
        "{where}: crs {crs!r} is not a known CRS ({detail}); write it like EPSG:4490",
    ),
    "error.catalog_layer_vector_only": (
        "{where}:layer 只适用于矢量(vector)条目",
        "{where}: 'layer' only applies to vector entries",
    ),
    "error.workspace_catalog_missing": (
        "工作区图层目录 {path} 不存在;请创建该文件,或指定包含 {file} 的文件夹",
        "workspace catalogue {path} does not exist; create it or pass the folder that holds {file}",
    ),
    "error.unknown_layer": (
        "图层目录({files})中没有名为 {name!r} 的图层;已有的图层:{known}",
        "no layer named {name!r} in the catalogue ({files}); known layers: {known}",
    ),
    "error.none": ("无", "none"),
    "error.no_layer_role": (
        "图层目录({files})中没有角色为 {role!r} 的图层;请在 catalog.yml 中添加一个带 role: {role} 的图层",
        "no layer with role {role!r} in the catalogue ({files}); add one to catalog.yml with 'role: {role}'",
    ),
    "error.layer_file_missing": (
        "图层 {name!r}:文件 {path}(来自 {catalog})不存在;请修改图层目录中的 path,或创建该文件",
        "layer {name!r}: file {path} (from {catalog}) does not exist; fix 'path' in the catalogue or create the file",
    ),
    "error.layer_unreadable": ("图层 {name!r}:无法读取 {path}{sublayer}:{detail}", "layer {name!r}: cannot read {path}{sublayer}: {detail}"),
    "error.layer_sublayer": ("(图层 {layer!r})", " (layer {layer!r})"),
    "error.layer_no_crs": (
        "图层 {name!r}:{path} 没有坐标系,图层目录条目也未给出;请在 {catalog} 中添加 crs: EPSG:…",
        "layer {name!r}: {path} has no CRS and the catalogue entry gives none; add 'crs: EPSG:…' to {catalog}",
    ),
    "error.raster_layer_unreadable": (
        "图层 {name!r}:无法读取栅格 {path}:{detail}",
        "layer {name!r}: cannot read raster {path}: {detail}",
    ),
    "error.layer_subdatasets": (
        "图层 {name!r}:{path} 包含多个子数据集;请让 path 指向其中之一",
        "layer {name!r}: {path} holds several subdatasets; point 'path' at one of them",
    ),
    "error.raster_layer_no_crs": (
        "图层 {name!r}:栅格 {path} 没有坐标系,图层目录条目也未给出;请在 {catalog} 中添加 crs: EPSG:…",
        "layer {name!r}: raster {path} has no CRS and the catalogue entry gives none; add 'crs: EPSG:…' to {catalog}",
    ),
    "error.targets_missing": (
        "目标文件 {path} 不存在;请指定一个现有的 YAML 文件(自带的目标文件为 {bundled})",
        "targets file {path} does not exist; pass an existing YAML file (the bundled one is {bundled})",
    ),
    "error.targets_empty": ("{path}:文件为空;示例见 {bundled}", "{path}: the file is empty; see {bundled} for an example"),
    "error.targets_no_year": (
        "{origin}:没有 {year} 年的目标(其中有目标的年份:{years});请为 {year} 年编写目标文件(复制此文件,修改年份、数值和原文),并用 --targets 指定",
        ("{origin}: no targets for {year} (it has targets for {years}); write a targets file for {year} "
         "(copy this one and change year, values and sentences) and pass it with --targets"),
    ),
    "error.targets_no_year_any": ("无", "no year"),
    "error.targets": ("目标文件 {origin}:{where}:{problem}", "{origin}: {where}: {problem}"),
    "error.targets_where_top": ("顶层", "top level"),
    "error.targets_where_entry": ("{kind}条目 {key!r}", "{kind} {key!r}"),
    "error.targets_kind_target": ("目标", "target"),
    "error.targets_kind_count_target": ("数量目标", "count target"),
    "error.targets_kind_baseline": ("基数", "baseline"),
    "error.targets_kind_not_tracked": ("不跟踪的目标 not_tracked", "not_tracked"),
    "error.targets_not_a_mapping": (
        "此处应为字段映射,实际为 {type} {value!r}",
        "expected a mapping of fields, got {type} {value!r}",
    ),
    "error.targets_missing_field": ("缺少字段 '{name}'", "missing field '{name}'"),
    "error.targets_not_text": ("字段 '{name}' 必须是文本,实际为 {value!r}", "field '{name}' must be text, got {value!r}"),
    "error.targets_not_number": ("字段 '{name}' 必须是数字,实际为 {value!r}", "field '{name}' must be a number, got {value!r}"),
    "error.targets_not_positive": (
        "字段 '{name}' 必须大于 0,实际为 {value!r}",
        "field '{name}' must be greater than 0, got {value!r}",
    ),
    "error.targets_year": (
        "字段 'year' 必须是年份,如 2024,实际为 {value!r}",
        "field 'year' must be a year such as 2024, got {value!r}",
    ),
    "error.targets_schedule": (
        "schedule 必须是 linear,或 12 个从 0 升到 1 的累计月末比例(如 [0, 0, 0, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 1, 1, 1]),实际为 {value!r}",
        ("schedule must be 'linear' or 12 cumulative month-end fractions rising from 0 to 1 "
         "(e.g. [0, 0, 0, 0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 1, 1, 1]), got {value!r}"),
    ),
    "error.targets_scope": (
        "scope 必须是 city 或县级代码列表,实际为 {value!r}",
        "scope must be 'city' or a list of county codes, got {value!r}",
    ),
    "error.targets_scope_code": (
        "scope 中的县级代码 {code!r} 不是 6 位 GB/T 2260 代码(如 220882)",
        "scope county code {code!r} is not a 6-digit GB/T 2260 code such as 220882",
    ),
    "error.targets_scope_unknown": (
        "scope 中的县级代码 {code} 不属于白城市;请使用以下之一:{known}",
        "scope county code {code} is unknown in Baicheng; use one of: {known}",
    ),
    "error.targets_scope_city": (
        "scope 中的县级代码 {code} 不属于城市 {city}",
        "scope county code {code} is not in the city {city}",
    ),
    "error.targets_status": (
        "achieved_statuses 中的状态 {status!r} 无法识别;请从以下选用:{choices}",
        "unknown status {status!r} in achieved_statuses; use some of: {choices}",
    ),
    "error.targets_statuses_empty": (
        "achieved_statuses 为空;请至少列出一个状态,如 [completed, accepted]",
        "achieved_statuses is empty; list at least one status, e.g. [completed, accepted]",
    ),
    "error.targets_unknown_fields": (
        "未知的字段 {fields};允许的字段:{allowed}",
        "unknown field(s) {fields}; allowed: {allowed}",
    ),
    "error.targets_city_code": (
        "代码 {code!r} 不是 6 位 GB/T 2260 代码(如 220800)",
        "code {code!r} is not a 6-digit GB/T 2260 code such as 220800",
    ),
    "error.targets_key": (
        "key 只能由小写字母、数字和 _ 组成(如 paddy_new)",
        "key must be lower-case letters, digits and _ (e.g. paddy_new)",
    ),
    "error.targets_duplicate_key": (
        "key 重复;每个目标、基数和列出的目标都需要各自的 key",
        "duplicate key; every target, baseline and listed target needs its own key",
    ),
    "error.targets_quote": ("quote {quote!r} 不是其 sentence 的一部分", "quote {quote!r} is not part of its sentence"),
    "error.targets_category": (
        "未知的类别 {category!r};请使用以下之一:{choices}(或在 categories: 下用 name_zh 和 name_en 声明)",
        ("unknown category {category!r}; use one of: {choices} "
         "(or declare it under 'categories:' with name_zh and name_en)"),
    ),
    "error.targets_unit": (
        "单位 {unit!r} 不是面积单位;请使用以下之一:{choices}",
        "unit {unit!r} is not an area unit; use one of: {choices}",
    ),
    "error.targets_comparator": ("comparator {comparator!r} 不是以下之一:{choices}", "comparator {comparator!r} is not one of: {choices}"),
    "error.targets_tolerance": (
        "tolerance 必须是 0 到 1 之间的比例(0.02 即 2%),实际为 {value!r}",
        "tolerance must be a fraction between 0 and 1 (0.02 = 2 %), got {value!r}",
    ),
    "error.targets_whole_sites": ("value 必须是整数个点位,实际为 {value!r}", "value must be a whole number of sites, got {value!r}"),
    "error.targets_site_unit": (
        "数量目标的 unit 必须是 site,实际为 {value!r}",
        "unit of a count target must be 'site', got {value!r}",
    ),
    "error.targets_max_site": (
        "max_site_mu({mx:g})必须大于 min_site_mu({mn:g})",
        "max_site_mu ({mx:g}) must be larger than min_site_mu ({mn:g})",
    ),
    "error.targets_none": (
        "没有目标:请在 targets: 或 count_targets: 下至少添加一项",
        "no targets: add at least one entry under 'targets:' or 'count_targets:'",
    ),
    "error.as_of": (
        "--as-of {value!r} 不是日期;请写成 YYYY-MM-DD,如 2024-06-30",
        "as_of {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-06-30",
    ),
    "error.where_raster": ("栅格", "raster"),
    "error.where_zones": ("分区", "zones"),
    "error.where_weights": ("覆盖权重", "coverage weights"),
    "error.where_dataset": ("该 Dataset", "the Dataset"),
    "error.where_stack": ("时间序列", "stack"),
    "error.raster_no_crs": (
        "{name}:栅格没有坐标系,无法把分区放到栅格上;请为其设置坐标系,如 `gdal_edit.py -a_srs EPSG:4550 文件` 或 `da.rio.write_crs('EPSG:4550')`",
        ("{name}: the raster has no CRS, so the zones cannot be placed on it; set one, e.g. "
         "`gdal_edit.py -a_srs EPSG:4550 FILE` or `da.rio.write_crs('EPSG:4550')`"),
    ),
    "error.raster_rotated": (
        "{name}:栅格网格是旋转的(变换参数 {transform});分区统计需要正北向上的网格,请先重投影,如 `gdalwarp 输入 输出`",
        ("{name}: the raster grid is rotated (transform {transform}); zonal statistics need a north-up grid; "
         "warp it first, e.g. `gdalwarp IN OUT`"),
    ),
    "error.raster_flipped": (
        "{name}:栅格网格是翻转的(像元大小 {xsize}, {ysize});分区统计需要正北向上的网格(x 方向像元大小为正,y 方向为负)",
        ("{name}: the raster grid is flipped (pixel size {xsize}, {ysize}); zonal statistics need a north-up "
         "grid (positive x size, negative y size)"),
    ),
    "error.zones_no_crs": (
        "{name}:分区没有坐标系;请用 `zones.set_crs('EPSG:4490')`(或其实际坐标系)设置",
        "{name}: the zones have no CRS; set it with `zones.set_crs('EPSG:4490')` (or the CRS they are really in)",
    ),
    "error.zones_empty": ("{name}:没有任何分区", "{name}: there are no zones"),
    "error.zone_not_polygon": (
        "{name}:分区 {zone!r} 是 {geom_type},不是(多)多边形;分区统计需要多边形(请先对点或线做缓冲)",
        ("{name}: zone {zone!r} is a {geom_type}, not a (Multi)Polygon; zonal statistics need polygons "
         "(buffer points/lines first)"),
    ),
    "error.zones_outside_raster": (
        ("{name}:{n} 个分区中没有一个与栅格重叠({grid},范围 {bounds});在栅格的坐标系中分区位于 {zone_bounds};"
         "请检查分区和栅格是否覆盖同一地方、坐标系是否正确"),
        ("{name}: none of the {n} zones overlaps the raster ({grid}, bounds {bounds}); the zones lie at "
         "{zone_bounds} in the raster's CRS; check that zones and raster cover the same place and that "
         "their CRS are right"),
    ),
    "error.weights_file_invalid": (
        "{path}:不是 agrigis 写出的覆盖权重文件({detail});请用 Coverage.build(...).save(path) 重新生成",
        "{path}: not a coverage-weights file written by agrigis ({detail}); rebuild it with Coverage.build(...).save(path)",
    ),
    "error.weights_grid": (
        "{name}:权重是为网格 {built} 生成的,但栅格的网格是 {grid};请为此网格生成新的权重(Coverage.build(zones, raster))",
        ("{name}: the weights were built for the grid {built}, but the raster's grid is {grid}; build new "
         "weights for this grid (Coverage.build(zones, raster))"),
    ),
    "error.weights_zones": (
        "{name}:权重是为其他分区生成的(指纹 {built},这些分区为 {fingerprint});请为这些分区生成新的权重(Coverage.build(zones, raster))",
        ("{name}: the weights were built for other zones (fingerprint {built}, these zones have {fingerprint}); "
         "build new weights for these zones (Coverage.build(zones, raster))"),
    ),
    "error.unknown_method": (
        "方法 {method!r} 无法识别;请使用以下之一:{choices}",
        "method {method!r} is unknown; use one of {choices}",
    ),
    "error.date_unknown": (
        "{where}:无法判断 {value!r} 的日期;请在文件名或波段描述中写明日期,如 ndvi_2023-07-01.tif 或 YYYY-MM-DD",
        ("{where}: cannot tell the date of {value!r}; name files or band descriptions with the date, "
         "e.g. ndvi_2023-07-01.tif or YYYY-MM-DD"),
    ),
    "error.date_invalid": ("{where}:{value!r} 中的 {date!r} 不是有效日期", "{where}: {value!r} holds {date!r}, which is not a date"),
    "error.raster_cannot_open": ("{path}:无法打开栅格({detail})", "{path}: cannot open the raster ({detail})"),
    "error.band_missing": (
        "{path}:波段 {band} 不存在;该栅格有 {count} 个波段",
        "{path}: band {band} does not exist; the raster has {count} band(s)",
    ),
    "error.stack_grid": (
        "{path}:其网格({grid})与第一个栅格的网格({first})不同;时间序列中所有日期的栅格必须使用同一网格",
        ("{path}: its grid ({grid}) differs from the first raster's ({first}); all dates of a stack must "
         "share one grid"),
    ),
    "error.raster_damaged": (
        "{path}:无法读取波段 {band} 的第 {first}–{last} 行({detail});文件已损坏或不完整(可用 gdalinfo -checksum 检查,并重新复制)",
        ("{path}: cannot read rows {first}–{last} of band {band} ({detail}); the file is damaged or incomplete "
         "(check it with gdalinfo -checksum, copy it again)"),
    ),
    "error.dataarray_dims": (
        "{name}:DataArray 的维度为 {dims};分区统计接受 (y, x) 或再多一个维度如 (time, y, x);请先选出其他维度,如 da.sel(band=1)",
        ("{name}: the DataArray has dims {dims}; zonal statistics take (y, x) or one extra dim such as "
         "(time, y, x); select the others first, e.g. da.sel(band=1)"),
    ),
    "error.raster_not_found": ("{path}:找不到栅格文件", "{path}: raster file not found"),
    "error.no_variable": ("{where}:没有变量 {variable!r};现有变量为 {names}", "{where}: no variable {variable!r}; it has {names}"),
    "error.choose_variable": (
        "{where} 有多个变量 {names};请用 variable=... 选择其一",
        "{where} has the variables {names}; choose one with variable=...",
    ),
    "error.xarray_not_found": ("{path}:找不到文件", "{path}: file not found"),
    "error.xarray_unreadable": ("{path}:无法用 xarray 打开({detail})", "{path}: cannot open it with xarray ({detail})"),
    "error.unknown_stat": (
        "统计量 {stat!r} 无法识别;请使用 {choices},或用 pNN 表示百分位数(p10、p90 …)",
        "statistic {stat!r} is unknown; use {choices} or pNN for a percentile (p10, p90 …)",
    ),
    "error.output_type": (
        "{path}:无法识别的输出类型;请使用以下之一:{choices}",
        "{path}: unknown output type; use one of {choices}",
    ),
    "error.no_column": ("{path}:没有列 {column!r};现有的列为 {columns}", "{path}: no column {column!r}; it has {columns}"),
    "error.suit_where": ("{origin} 中的 {path}", "{origin}: {path}"),
    "error.suit_grid_layer": (
        "没有给出网格图层 {layer!r}(DEM);请将其加入工作区的图层目录",
        "the grid layer {layer!r} (a DEM) was not given; add it to the workspace catalogue",
    ),
    "error.counties_no_code": ("县界图层没有 county_code 列;现有的列:{columns}", "the counties layer has no county_code column; columns: {columns}"),
    "error.suit_not_number": ("{where}:{value!r} 不是数字", "{where}: {value!r} is not a number"),
    "error.suit_not_finite": ("{where}:{value!r} 不是有限的数字", "{where}: {value!r} is not a finite number"),
    "error.suit_scores_list": (
        "{where}:scores 必须是至少两个 [值, 得分] 对的列表",
        "{where}: scores must be a list of at least two [value, score] pairs",
    ),
    "error.suit_scores_pair": (
        "{where}:scores 第 {i} 项必须是 [值, 得分],实际为 {pair!r}",
        "{where}: scores entry {i} must be [value, score], got {pair!r}",
    ),
    "error.suit_score_range": ("{where}:值 {x:g} 处的得分 {s:g} 不在 0..1 之内", "{where}: score {s:g} at value {x:g} is outside 0..1"),
    "error.suit_thresholds": (
        "{where}:阈值必须严格递增,但在 {xs} 中 {b:g} 排在 {a:g} 之后",
        "{where}: thresholds must be strictly increasing, but {b:g} follows {a:g} in {xs}",
    ),
    "error.suit_not_mapping": (
        "{origin}:适宜性配置必须是含 criteria 的映射",
        "{origin}: a suitability configuration must be a mapping with 'criteria'",
    ),
    "error.suit_unknown_keys": ("{origin}:未知的键 {keys};允许的键:{allowed}", "{origin}: unknown key(s) {keys}; allowed: {allowed}"),
    "error.suit_criteria": (
        "{origin}:criteria 必须把准则名称映射到其设置(至少一个)",
        "{origin}: 'criteria' must map criterion names to settings (at least one)",
    ),
    "error.suit_settings": ("{where}:设置必须是映射", "{where}: settings must be a mapping"),
    "error.suit_layer": ("{where}:请给出 layer(图层目录中的图层名或角色)", "{where}: give 'layer' (a catalogue layer name or role)"),
    "error.suit_derive": ("{where}:derive {derive!r} 无法识别;请使用以下之一:{choices}", "{where}: derive {derive!r} is unknown; use one of {choices}"),
    "error.suit_weight": ("{where}:weight 必须大于 0,实际为 {weight:g}", "{where}: weight must be > 0, got {weight:g}"),
    "error.suit_scheme_derive": ("{where}:scheme 只适用于 derive: value", "{where}: a scheme only applies to derive: value"),
    "error.suit_scheme": ("{where}:分类方案有误:{problem}", "{where}: {problem}"),
    "error.suit_class_scores": (
        "{where}:使用 scheme 时请给出 class_scores,为每个类别打分:{codes}",
        "{where}: with a scheme give class_scores, a score for each class: {codes}",
    ),
    "error.suit_class_scores_match": (
        "{where}:class_scores 必须恰好为方案 {scheme} 的各类别打分({codes});未知:{unknown};缺少:{missing}",
        ("{where}: class_scores must score exactly the classes of scheme {scheme} ({codes}); "
         "unknown: {unknown}; missing: {missing}"),
    ),
    "error.suit_class_scores_range": ("{where}:类别得分必须在 0..1 之内", "{where}: class scores must be within 0..1"),
    "error.suit_no_scores": (
        "{where}:请给出 scores([[值, 得分], …])或带 class_scores 的 scheme",
        "{where}: give 'scores' ([[value, score], …]) or 'scheme' with 'class_scores'",
    ),
    "error.suit_negative_distance": ("{where}:距离不能为负", "{where}: distances cannot be negative"),
    "error.suit_exclusion_layer": (
        "{where}:请给出 layer(栅格再给 values,矢量再给 buffer_m)",
        "{where}: give 'layer' (and 'values' for a raster or 'buffer_m' for a vector)",
    ),
    "error.suit_exclusion_values": ("{where}:values 必须是非空的栅格值列表", "{where}: values must be a non-empty list of raster values"),
    "error.suit_resolution": ("{origin}:grid.resolution_m 必须大于 0", "{origin}: grid.resolution_m must be > 0"),
    "error.suit_connectivity": ("{origin}:connectivity 必须是 4 或 8,实际为 {value}", "{origin}: connectivity must be 4 or 8, got {value}"),
    "error.suit_min_score": ("{origin}:min_score 必须在 (0, 1] 之内,实际为 {value:g}", "{origin}: min_score must be in (0, 1], got {value:g}"),
    "error.suit_min_block": ("{origin}:min_block_mu 必须 >= 0", "{origin}: min_block_mu must be >= 0"),
    "error.suit_raster_no_crs": (
        "图层 {name!r}:栅格没有坐标系;请在图层目录条目中设置(crs: EPSG:4550),或用 `gdal_edit.py -a_srs EPSG:4550 文件` 设置",
        ("layer {name!r}: the raster has no CRS; set it in the catalogue entry (crs: EPSG:4550) "
         "or with `gdal_edit.py -a_srs EPSG:4550 FILE`"),
    ),
    "error.suit_vector_no_crs": (
        "图层 {name!r}:矢量图层没有坐标系;请在图层目录条目中设置(crs: EPSG:4490),或用 `gdf.set_crs('EPSG:4490')` 设置",
        ("layer {name!r}: the vector layer has no CRS; set it in the catalogue entry "
         "(crs: EPSG:4490) or with `gdf.set_crs('EPSG:4490')`"),
    ),
    "error.suit_grid_crs": (
        "{origin}:grid.crs {crs} 必须是以米为单位的投影坐标系(如 EPSG:4550)",
        "{origin}: grid.crs {crs} must be a projected CRS in metres (e.g. EPSG:4550)",
    ),
    "error.suit_grid_resolution": (
        "{origin}:{layer} 栅格的坐标系是 {src},不是 {crs};请设置 grid.resolution_m,以便重投影到平面网格",
        ("{origin}: the {layer} raster is in {src}, not {crs}; set grid.resolution_m so it can be reprojected "
         "onto a planar grid"),
    ),
    "error.suit_config_missing": (
        "适宜性配置 {path} 不存在(默认配置为 {default})",
        "suitability configuration {path} does not exist (the default is {default})",
    ),
    "error.suit_layers_missing": (
        ("{origin}:在图层目录中(按名称或角色)找不到图层 {names};请将其加入工作区的 catalog.yml"
         "(如运行 `agrigis demo` 生成合成的替代图层),或修改配置中的图层"),
        ("{origin}: layer(s) {names} not found in the catalogue (by name or role); add them to the workspace "
         "catalog.yml (e.g. run `agrigis demo` for synthetic stand-ins) or change the layers in the configuration"),
    ),
    "error.suit_no_target": (
        "{origin}:没有 key 或类别为 {key!r} 的面积目标可供比较",
        "{origin}: no area target with key or category {key!r} to compare with",
    ),
    "error.unknown_index": (
        "无法识别的光谱指数 {name!r};已知的指数:{known}",
        "unknown spectral index {name!r}; known indices: {known}",
    ),
    "error.index_bands": (
        "指数 {alias}({id} = {formula})需要波段 {missing},但缺少这些波段;已给出:{given}",
        "index {alias} ({id} = {formula}) needs band(s) {missing}, which are missing; given: {given}",
    ),
    "error.stack_band_dates": (
        "{where}:无法判断每个波段的日期;请把波段描述设为 YYYY-MM-DD(gdal_edit.py -mo / rasterio set_band_description),或每个日期给一个文件",
        ("{where}: cannot tell the date of each band; set band descriptions to YYYY-MM-DD "
         "(gdal_edit.py -mo / rasterio set_band_description) or pass one file per date"),
    ),
    "error.stack_dims": (
        "{where}:指数时间序列需要 time 或 band 维度;实际维度为 {dims}",
        "{where}: an index time stack needs a time or band dimension; got dims {dims}",
    ),
    "error.where_layer": ("图层 {name!r}", "layer {name!r}"),
    "error.where_index_stack": ("指数时间序列", "index stack"),
    "error.stack_no_ndvi": (
        ("没有给出指数时间序列,图层目录中也没有角色为 ndvi 的图层;请用 --stack 文件 指定"
         "(以日期为波段描述的多波段 GeoTIFF,或每个日期一个文件),或在工作区的 catalog.yml 中添加 ndvi 图层"),
        ("no index time stack given and the catalogue has no layer with role 'ndvi'; pass --stack FILE "
         "(a multi-band GeoTIFF with dates as band descriptions, or one file per date) or add an 'ndvi' layer "
         "to the workspace catalog.yml"),
    ),
    "error.stack_file_missing": ("指数时间序列文件 {path} 不存在", "index stack file {path} does not exist"),
    "error.raster_unreadable": ("无法读取栅格 {path}:{detail}", "cannot read raster {path}: {detail}"),
    "error.parcels_columns": (
        "地块缺少列 {missing};现有的列:{columns}",
        "parcels lack column(s) {missing}; columns: {columns}",
    ),
    "error.no_parcels_of_category": (
        "没有类别为 {categories} 的地块可供监测;现有的类别:{have}",
        "no parcels of category {categories} to monitor; categories present: {have}",
    ),
    "error.duplicate_project": (
        "project_code {code!r} 出现了不止一次;只监测现行版本",
        "project_code {code!r} appears more than once; monitor current versions only",
    ),
    "error.season": (
        "--season {value!r}:请把起止月份写成 M-M,如 5-9",
        "--season {value!r}: write the first and last month as M-M, e.g. 5-9",
    ),
    "error.series_missing": (
        "时间序列文件 {path} 不存在;请先运行 agrigis remediation,或去掉 --series",
        "series file {path} does not exist; run agrigis remediation first or leave out --series",
    ),
    "error.series_not_json": ("时间序列文件 {path} 不是 JSON({detail})", "series file {path} is not JSON ({detail})"),
    "error.not_layer_or_file": (
        "{layer!r} 既不是图层目录中的图层({names}),也不是现有的文件",
        "{layer!r} is neither a catalogue layer ({names}) nor an existing file",
    ),
    "error.results_missing": (
        "{path} 中没有 {names} 中的任何一个;请先运行相应的 agrigis 命令",
        "{path} has none of {names}; run the matching agrigis command first",
    ),
    "error.no_verdict_column": (
        "{path} 没有结论(verdict)列;现有的列为 {columns}",
        "{path} has no verdict column; columns are {columns}",
    ),
    "error.no_score_column": ("{path} 没有 score 列;现有的列为 {columns}", "{path} has no 'score' column; columns are {columns}"),
    "error.map_parcel_column": (
        "地块图层没有列 {column!r};现有的列:{columns}",
        "parcel layer has no column {column!r}; columns are: {columns}",
    ),
    "error.map_layer_columns": (
        "图层 {name!r} 没有列 {missing};现有的列:{columns}",
        "layer {name!r} has no column(s) {missing}; columns are: {columns}",
    ),
    "error.map_layer_column": (
        "图层 {name!r} 没有列 {column!r};现有的列:{columns}",
        "layer {name!r} has no column {column!r}; columns are: {columns}",
    ),
    "error.map_counties_code": ("县界图层没有 county_code 列", "the counties layer has no column 'county_code'"),
    "error.map_raster_empty": ("栅格 {name!r} 没有可制图的有效值", "raster {name!r} has no valid values to map"),
    "error.tianditu_key": (
        "天地图密钥 {key!r} 不是单纯的令牌;请从天地图控制台复制",
        "Tianditu key {key!r} is not a plain token; copy it from the Tianditu console",
    ),
    "error.unknown_basemap": ("无法识别的底图 {basemap!r};请使用以下之一:{choices}", "unknown basemap {basemap!r}; use one of: {choices}"),
    "error.map_no_crs": (
        "图层没有坐标系;制图前请先设置(如 gdf.set_crs('EPSG:4490'))",
        "the layer has no CRS; set it (e.g. gdf.set_crs('EPSG:4490')) before mapping",
    ),
    "error.map_raster_no_crs": (
        "栅格没有坐标系;请用 da.rio.write_crs('EPSG:4490') 写入",
        "the raster has no CRS; write one with da.rio.write_crs('EPSG:4490')",
    ),
    "error.map_overlay_bands": ("地图叠加层只能有一个波段,实际维度为 {dims}", "a map overlay needs one band, got dimensions {dims}"),
    "error.grid": (
        "{width}×{height} 个像元,像元大小 {xsize:g}×{ysize:g},左上角 ({x:g}, {y:g}),{crs}",
        "{width}×{height} cells of {xsize:g}×{ysize:g} at ({x:g}, {y:g}), {crs}",
    ),
    "error.grid_no_crs": ("无坐标系", "no CRS"),
    "error.trend_table_dates": (
        "指数表的列必须是日期(分区 × 时间);实际为 {columns} …",
        "the columns of the index table must be dates (zone × time); got {columns} …",
    ),
    "error.trend_direction": ("direction 必须是 up 或 down,实际为 {value!r}", "direction must be 'up' or 'down', got {value!r}"),
    "error.trend_method": (
        "趋势方法必须是 theil_sen 或 ols,实际为 {value!r}",
        "trend method must be 'theil_sen' or 'ols', got {value!r}",
    ),
    "error.trend_season": (
        "生长季必须是 1..12 之内的(起始月, 结束月),实际为 {value!r}",
        "season must be (first month, last month) within 1..12, got {value!r}",
    ),
    "check.kind": ("问题类型", "problem"),
    "check.code_a": ("项目编号A", "project code A"),
    "check.code_b": ("项目编号B", "project code B"),
    "check.detail": ("说明", "detail"),
    "check.value_mu": ("面积(亩)", "area (mu)"),
    "check.overlap_same": ("同类项目重叠(重复申报)", "overlap within a category (declared twice)"),
    "check.overlap_cross": ("不同类项目重叠", "overlap across categories"),
    "check.area_mismatch": ("申报面积与计算面积相差超过5%", "declared vs computed area differ by more than 5 %"),
    "check.sliver": ("碎小图斑(小于1亩)", "sliver (under 1 mu)"),
    "check.straddle": ("跨县图斑", "parcel straddles counties"),
    "check.none": ("未发现问题", "no problems found"),
    "check.summary": ("检查结果", "check results"),
    # --- tracking / progress (gis.tracking, workflows.progress) -------------------
    "tracking.title": ("{year}年目标任务进展", "Progress against the {year} targets"),
    "tracking.subtitle": ("{city} · 截至 {as_of} · 依据《{source}》", "{city} · as of {as_of} · from: {source}"),
    "tracking.col.key": ("目标代码", "Target key"),
    "tracking.col.name": ("目标任务", "Target"),
    "tracking.col.category": ("项目类型", "Category"),
    "tracking.col.year": ("年度", "Year"),
    "tracking.col.comparator": ("要求", "Requirement"),
    "tracking.col.scope": ("范围", "Scope"),
    "tracking.col.region": ("县(市、区)", "County"),
    "tracking.col.in_scope": ("计入目标", "Counts"),
    "tracking.col.target_wan_mu": ("目标(万亩)", "Target (10k mu)"),
    "tracking.col.achieved_wan_mu": ("已完成(万亩)", "Achieved (10k mu)"),
    "tracking.col.under_construction_wan_mu": ("在建(万亩)", "Under construction (10k mu)"),
    "tracking.col.planned_wan_mu": ("规划/立项(万亩)", "Planned/approved (10k mu)"),
    "tracking.col.outside_scope_wan_mu": ("范围外(万亩,不计)", "Outside scope (10k mu, not counted)"),
    "tracking.col.remaining_wan_mu": ("尚差(万亩)", "Remaining (10k mu)"),
    "tracking.col.expected_wan_mu": ("按进度应完成(万亩)", "Expected by now (10k mu)"),
    "tracking.col.percent": ("完成率(%)", "Achieved (%)"),
    "tracking.col.with_pipeline_percent": ("含在建规划(%)", "With pipeline (%)"),
    "tracking.col.status": ("完成情况", "Status"),
    "tracking.col.pace": ("进度", "Pace"),
    "tracking.col.n_parcels": ("计入图斑数", "Parcels counted"),
    "tracking.col.target_sites": ("目标(个)", "Target (sites)"),
    "tracking.col.achieved_sites": ("已达标(个)", "Achieved (sites)"),
    "tracking.col.with_pipeline_sites": ("含在建规划(个)", "With pipeline (sites)"),
    "tracking.col.min_site_mu": ("连片面积下限(亩)", "Min contiguous area (mu)"),
    "tracking.col.max_site_mu": ("连片面积上限(亩)", "Max contiguous area (mu)"),
    "tracking.col.largest_site_mu": ("最大连片(亩)", "Largest site (mu)"),
    "tracking.col.site": ("地块序号", "Site"),
    "tracking.col.area_mu": ("面积(亩)", "Area (mu)"),
    "tracking.col.counts_for": ("计入目标", "Counts for"),
    "tracking.col.project_codes": ("项目编号", "Project codes"),
    "tracking.col.flag": ("问题", "Problem"),
    "tracking.col.project_code": ("项目编号", "Project code"),
    "tracking.col.other_project_code": ("重叠项目编号", "Overlapping project"),
    "tracking.col.status_code": ("状态", "Status"),
    "tracking.col.declared_area_mu": ("申报面积(亩)", "Declared area (mu)"),
    "tracking.col.detail": ("说明", "Detail"),
    "tracking.col.value": ("数值", "Value"),
    "tracking.col.unit": ("单位", "Unit"),
    "tracking.col.value_wan_mu": ("报告数(万亩)", "Reported (10k mu)"),
    "tracking.col.registry_achieved_wan_mu": ("库内已完成(万亩)", "In registry, achieved (10k mu)"),
    "tracking.col.sentence": ("报告原文", "Report sentence"),
    "tracking.sheet.summary": ("目标总表", "Summary"),
    "tracking.sheet.by_county": ("分县", "By county"),
    "tracking.sheet.counts": ("示范基地", "Demo bases"),
    "tracking.sheet.sites": ("连片地块", "Sites"),
    "tracking.sheet.flags": ("问题图斑", "Flags"),
    "tracking.sheet.baselines": ("2023基数", "Baselines"),
    "tracking.sheet.not_tracked": ("非空间指标", "Not tracked spatially"),
    "tracking.sheet.method": ("方法与数据", "Method and data"),
    "tracking.status.met": ("已完成", "met"),
    "tracking.status.not_met": ("未完成", "not met"),
    "tracking.status.exceeded": ("超额", "exceeded"),
    "tracking.pace.met": ("已完成", "met"),
    "tracking.pace.ahead": ("超前", "ahead"),
    "tracking.pace.behind": ("滞后", "behind"),
    "tracking.comparator.at_least": ("不少于", "at least"),
    "tracking.comparator.exactly": ("完成", "deliver"),
    "tracking.comparator.keep_stable": ("稳定在", "keep stable at"),
    "tracking.scope.city": ("全市", "whole city"),
    "tracking.region.outside_city": ("市界外", "outside the city"),
    "tracking.bool.true": ("是", "yes"),
    "tracking.bool.false": ("否", "no"),
    "tracking.flag.double_declared": ("同类重复申报", "declared twice (same category)"),
    "tracking.flag.in_protected_area": ("位于自然保护区", "in a nature reserve"),
    "tracking.flag.outside_city": ("超出市界", "outside the city"),
    "tracking.flag.area_gap": ("申报面积与计算面积不符", "declared area differs from computed"),
    "tracking.flag.no_geometry": ("无图形", "no geometry"),
    "tracking.not_tracked.note": ("非空间指标,不按图斑统计", "not tracked spatially"),
    "tracking.chart.achieved": ("已完成", "achieved"),
    "tracking.chart.under_construction": ("在建", "under construction"),
    "tracking.chart.planned": ("规划/立项", "planned/approved"),
    "tracking.chart.expected": ("按进度应完成", "expected by now"),
    "tracking.chart.target": ("目标", "target"),
    "tracking.working": ("正在统计目标进展……", "computing progress against the targets…"),
    "tracking.footer": ("由 agrigis 生成于 {now}", "made by agrigis on {now}"),
    "tracking.synthetic_warning": (
        "注意:计入的图斑含合成演示数据(批次 {batches}),数字不代表真实进展。",
        "Warning: counted parcels include synthetic demo data (batches {batches}); the figures are not real progress.",
    ),
    "tracking.method.title": ("统计方法与数据来源", "Method and data sources"),
    "tracking.method.union": (
        "完成面积 = 该类型、该年度、计入状态({statuses})图斑并集的椭球面积(CGCS2000),重叠部分只计一次。",
        "Achieved area = ellipsoidal area (CGCS2000) of the union of the parcels of the category and year with a counted status ({statuses}); overlaps count once.",
    ),
    "tracking.method.county": (
        "按县级行政区划切分:跨县图斑按面积分到各县;目标范围以外的县和市界以外的部分不计入。",
        "Split by county: a parcel across a border is split by area; land in counties outside the target's scope and outside the city is not counted.",
    ),
    "tracking.method.pipeline": (
        "在建、规划/立项面积为在已完成基础上新增的面积,三者之和为全部图斑的并集。",
        "Under construction and planned/approved are the land they add beyond the earlier stages; the three add up to the union of all parcels.",
    ),
    "tracking.method.pace": (
        "进度:按全年线性(或目标文件给定的月度计划)计算截至统计日应完成的面积,已完成不少于此为超前,否则滞后。",
        "Pace: the area due by the reporting date on a linear (or the targets file's monthly) schedule; achieved at or above it is ahead, otherwise behind.",
    ),
    "tracking.method.sites": (
        "示范基地按连片地块计:相距不足 {gap} 米的图斑视为同一地块,面积为图斑并集面积。",
        "Demonstration bases are counted as contiguous sites: parcels less than {gap} m apart form one site; its area is the union of its parcels.",
    ),
    "tracking.method.area": (
        "面积为 CGCS2000(GRS80)椭球面积,1 亩 = 2000/3 平方米,1 万亩 = 10000 亩。",
        "Areas are ellipsoidal on CGCS2000 (GRS80); 1 mu = 2000/3 m², 10k mu = 10,000 mu.",
    ),
    "tracking.method.state": (
        "统计的是项目库当前状态;统计日只用于计算进度。",
        "The registry's current state is counted; the reporting date only sets the pace.",
    ),
    "tracking.method.targets": ("目标文件", "Targets file"),
    "tracking.method.registry": ("项目库", "Registry"),
    "tracking.method.counties": ("行政区划", "County boundaries"),
    "tracking.method.protected": ("自然保护区", "Nature reserves"),
    "tracking.method.none": ("未提供", "not given"),
    "tracking.method.as_of": ("统计日", "Reporting date"),
    "tracking.method.parcels": ("图斑数(全部/相关)", "Parcels (all / relevant)"),
    # --- zonal statistics (gis.zonal, workflows.zonal) -----------------------------
    "zonal.stat.count": ("有效像元数(按覆盖比例)", "Cells (by coverage)"),
    "zonal.stat.sum": ("总和", "Sum"),
    "zonal.stat.mean": ("均值", "Mean"),
    "zonal.stat.min": ("最小值", "Minimum"),
    "zonal.stat.max": ("最大值", "Maximum"),
    "zonal.stat.std": ("标准差", "Standard deviation"),
    "zonal.stat.median": ("中位数", "Median"),
    "zonal.stat.quantile": ("{q}%分位数", "{q}th percentile"),
    "zonal.stat.majority": ("众数(面积最大的值)", "Majority"),
    "zonal.stat.minority": ("面积最小的值", "Minority"),
    "zonal.stat.variety": ("不同值个数", "Variety"),
    "zonal.stat.area_mu": ("类别{c}面积(亩)", "Class {c} area (mu)"),
    "zonal.stat.frac": ("类别{c}占比", "Share of class {c}"),
    "zonal.stat.coverage_fraction": ("图斑在栅格内比例", "Share of parcel inside raster"),
    "zonal.stat.partly_outside": ("部分超出栅格", "Partly outside raster"),
    "zonal.progress": ("分区统计", "Zonal statistics"),
    "zonal.written": ("已写出 {path}", "Wrote {path}"),
    # --- salinity, remediation, suitability ------------------------------------------
    # --- the verdict rule of remediation monitoring (gis.trend.verdict_rule)
    "trend.rule": (
        ("{alias}({id},{better}):{test} < {alpha} 且 {fit} {good} 0(每年)且 治理后−治理前 {ge} {mc_good} "
         "时判为改善;p < {alpha} 且 斜率 {bad} 0 且 治理后−治理前 {le} {mc_bad} 时判为变差;其余为无明显变化;"
         "趋势点少于 {min_points} 个或项目年度之后没有观测时为数据不足"),
        ("{alias} ({id}, {better}): improving if {test} < {alpha} and {fit} {good} 0 per year and after - baseline "
         "{ge} {mc_good}; worsening if p < {alpha} and slope {bad} 0 and after - baseline {le} {mc_bad}; otherwise "
         "no clear change; insufficient data if fewer than {min_points} trend points or no observation after the "
         "project year"),
    ),
    "trend.better.up": ("越高越好", "higher is better"),
    "trend.better.down": ("越低越好", "lower is better"),
    "trend.test.theil_sen": ("Mann-Kendall 检验 p", "Mann-Kendall p"),
    "trend.test.ols": ("OLS t 检验 p", "OLS t-test p"),
    "trend.fit.theil_sen": ("Theil-Sen 斜率", "Theil-Sen slope"),
    "trend.fit.ols": ("OLS 斜率", "OLS slope"),
    "remediation.basis.seasonal_peak": ("逐年季节峰值", "seasonal peaks, one a year"),
    "remediation.basis.observations": ("逐期观测值", "observations"),
    "remediation.method.theil_sen": ("Theil-Sen 斜率 + Mann-Kendall 检验", "Theil-Sen slope + Mann-Kendall test"),
    "remediation.method.ols": ("最小二乘斜率 + t 检验", "least-squares slope + t-test"),
    "verdict.improving": ("改善", "improving"),
    "verdict.no_clear_change": ("无明显变化", "no clear change"),
    "verdict.worsening": ("变差", "worsening"),
    "verdict.insufficient_data": ("数据不足", "insufficient data"),
    "salinity.nodata": ("无数据", "no data"),
    "remediation.title": ("盐碱地治理成效监测", "Saline-alkali remediation monitoring"),
    "remediation.index": ("指数", "Index"),
    "remediation.n_obs": ("有效观测数", "Valid observations"),
    "remediation.baseline_mean": ("治理前均值(生长季)", "Baseline mean (growing season)"),
    "remediation.after_mean": ("治理后均值(生长季)", "After mean (growing season)"),
    "remediation.change": ("变化(治理后−治理前)", "Change (after − baseline)"),
    "remediation.peak_baseline": ("治理前季节峰值均值", "Baseline mean seasonal peak"),
    "remediation.peak_after": ("治理后季节峰值均值", "After mean seasonal peak"),
    "remediation.peak_max": ("最高季节峰值", "Highest seasonal peak"),
    "remediation.trend_basis": ("趋势依据", "Trend basis"),
    "remediation.n_trend": ("趋势点数", "Trend points"),
    "remediation.method": ("趋势方法", "Trend method"),
    "remediation.slope_per_year": ("趋势斜率(每年)", "Trend slope (per year)"),
    "remediation.intercept": ("趋势截距", "Trend intercept"),
    "remediation.slope_low": ("斜率95%下限", "Slope 95% low"),
    "remediation.slope_high": ("斜率95%上限", "Slope 95% high"),
    "remediation.tau": ("Kendall τ", "Kendall tau"),
    "remediation.p_value": ("显著性p值", "p-value"),
    "remediation.verdict": ("结论", "Verdict"),
    "remediation.verdict_rule": ("判定规则", "Verdict rule"),
    "remediation.item": ("项目", "Item"),
    "remediation.value": ("内容", "Value"),
    "remediation.stack": ("影像时间序列", "Image time series"),
    "remediation.sheet_table": ("治理成效", "Remediation"),
    "remediation.sheet_about": ("说明", "About"),
    "criterion.ph": ("土壤pH", "Soil pH"),
    "criterion.esp": ("碱化度ESP", "Soil ESP"),
    "criterion.ec": ("土壤电导率EC", "Soil EC"),
    "criterion.slope": ("坡度", "Slope"),
    "criterion.relief": ("局部起伏", "Local relief"),
    "criterion.water": ("距灌渠/水源距离", "Distance to canal or water"),
    "suitability.title": ("水田开发适宜性筛选", "Paddy suitability screening"),
    "suitability.candidate_id": ("候选地块编号", "Candidate"),
    "suitability.score": ("适宜性得分", "Suitability score"),
    "suitability.limiting_factor": ("限制因子", "Limiting factor"),
    "suitability.n_candidates": ("候选地块数", "Candidates"),
    "suitability.total_wan_mu": ("候选总面积(万亩)", "Total candidate area (10k mu)"),
    "suitability.in_scope_wan_mu": ("目标范围内候选面积(万亩)", "Candidate area within the target's counties (10k mu)"),
    "suitability.target_wan_mu": ("新建水田目标(万亩)", "New paddy target (10k mu)"),
    "suitability.remaining_wan_mu": ("新建水田剩余目标(万亩)", "Remaining new paddy target (10k mu)"),
    "suitability.ratio": ("候选面积/剩余目标", "Candidate area / remaining target"),
    "suitability.remaining_source": ("剩余目标来源", "Remaining target from"),
    "suitability.sheet_candidates": ("候选地块", "Candidates"),
    "suitability.sheet_by_county": ("分县汇总", "By county"),
    "suitability.sheet_summary": ("汇总", "Summary"),
    "suitability.config": ("配置文件", "Configuration"),
    "suitability.excluded_projects": ("已排除的在册项目地块数", "Registry project parcels excluded"),
    # --- maps ---------------------------------------------------------------------------
    "maps.legend": ("图例", "Legend"),
    "maps.parcels": ("项目地块", "Project parcels"),
    "maps.category": ("项目类型", "Category"),
    "maps.status": ("建设状态", "Status"),
    "maps.counties": ("县(市、区)界", "County boundaries"),
    "maps.choropleth": ("完成率", "Completion"),
    "maps.completion_pct": ("完成率(%)", "Completion (%)"),
    "maps.share_of_city_pct": ("占全市目标(%)", "Share of the city target (%)"),
    "maps.not_in_scope": ("不在目标范围", "outside the target's scope"),
    "maps.target": ("目标", "Target"),
    "maps.done_wan_mu": ("已完成(万亩)", "Done (10k mu)"),
    "maps.target_wan_mu": ("目标(万亩)", "Target (10k mu)"),
    "maps.no_data": ("无数据", "no data"),
    "maps.reserves": ("自然保护区", "Nature reserves"),
    "maps.canals": ("渠道", "Canals"),
    "maps.name": ("名称", "Name"),
    "maps.basemap.none": ("无底图", "No basemap"),
    "maps.basemap.osm": ("OpenStreetMap", "OpenStreetMap"),
    "maps.basemap.tianditu_vec": ("天地图 矢量", "Tianditu vector"),
    "maps.basemap.tianditu_img": ("天地图 影像", "Tianditu imagery"),
    "maps.basemap.gaode_vec": ("高德 地图", "Gaode (Amap) map"),
    "maps.basemap.gaode_img": ("高德 卫星", "Gaode (Amap) satellite"),
    "maps.tianditu_no_key": ("未设置天地图密钥(AGRIGIS_TIANDITU_KEY),已省略天地图底图", "no Tianditu key (AGRIGIS_TIANDITU_KEY): Tianditu basemaps left out"),
    "maps.gcj_note": ("高德底图为GCJ-02坐标,图上要素已偏移显示;导出仍为CGCS2000", "Gaode tiles are GCJ-02: features are shifted for display; exports stay CGCS2000"),
    "maps.synthetic": ("合成演示数据,非真实", "synthetic demo data, not real"),
    "maps.trend": ("监测趋势", "Monitored trend"),
    "maps.fullscreen": ("全屏", "Full screen"),
    "maps.locate": ("我的位置", "Where am I"),
    "maps.locating": ("正在定位…", "Locating…"),
    "maps.locate_failed": ("无法定位", "Location unavailable"),
    "maps.position": ("位置", "Position"),
    "maps.measure": ("测量距离和面积", "Measure distance and area"),
    "maps.measure_hint": ("点击地图添加点;再次点击按钮结束", "click the map to add points; click the button again to stop"),
    "maps.distance": ("距离", "Distance"),
    "maps.area": ("面积", "Area"),
    "maps.draw": ("勾绘地块边界", "Sketch a parcel boundary"),
    "maps.draw_hint": ("点击地图添加顶点,双击或点“完成”闭合;导出的GeoJSON可用 agrigis import 导入", "click to add vertices, double-click or Finish to close; the exported GeoJSON works with agrigis import"),
    "maps.draw_note": ("野外勾绘更正", "field sketch correction"),
    "maps.finish": ("完成", "Finish"),
    "maps.export": ("导出GeoJSON", "Export GeoJSON"),
    "maps.clear": ("清除", "Clear"),
    "maps.raster_nodata": ("无数据", "no data"),
    "maps.progress_title": ("白城市农业项目建设进度", "Baicheng agricultural projects: progress"),
    "maps.layer_title": ("图层", "Layer"),
    "maps.suitability_title": ("适宜性评价", "Suitability"),
    "maps.remediation_title": ("盐碱地改良", "Saline-alkali remediation"),
    "maps.class": ("等级", "Class"),
    "maps.value": ("数值", "Value"),
    # --- demo ---------------------------------------------------------------------------
    "demo.title": ("agrigis 演示工作区", "agrigis demo workspace"),
    "demo.done": ("完成", "done"),
    "demo.rejected": ("拒收", "rejected"),
    "demo.main_map": ("主地图", "Main map"),
    "demo.not_available": ("尚不可用,已跳过", "not available yet, skipped"),
    "demo.col.step": ("步骤", "Step"),
    "demo.col.seconds": ("耗时(秒)", "Time (s)"),
    "demo.col.outputs": ("输出文件", "Outputs"),
    "demo.step.generate": ("生成合成数据", "Generate synthetic data"),
    "demo.step.import": ("导入项目图斑", "Import parcels"),
    "demo.step.check": ("数据检查", "Check"),
    "demo.step.progress": ("目标进度", "Progress vs targets"),
    "demo.step.zonal": ("图斑盐碱分区统计", "Zonal salinity per parcel"),
    "demo.step.remediation": ("改良成效监测", "Remediation monitoring"),
    "demo.step.suitability": ("水田适宜性", "Paddy suitability"),
    "demo.step.maps": ("地图", "Maps"),
    "demo.landcover.cropland": ("旱地", "Cropland"),
    "demo.landcover.paddy": ("水田", "Paddy"),
    "demo.landcover.grassland": ("草地", "Grassland"),
    "demo.landcover.forest": ("林地", "Forest"),
    "demo.landcover.water": ("水域", "Water"),
    "demo.landcover.built_up": ("建设用地", "Built-up"),
    "demo.landcover.saline_barren": ("盐碱裸地", "Saline barren"),
}
"""Free labels: dotted key → (中文, English)."""


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, str]]:
    """All labels by dotted key, built once (callers only read it)."""
    out = dict(LABELS)
    out.update({f"category.{k}": v for k, v in CATEGORIES.items()})
    out.update({f"status.{k}": v for k, v in STATUSES.items()})
    out.update({f"county.{k}": v for k, v in COUNTIES.items()})
    return out


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear :class:`InputError`."""
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    return lang


def label(key: str, lang: str = DEFAULT_LANG) -> str:
    """The label for ``key`` in ``lang`` (``"zh"`` or ``"en"``).

    Raises
    ------
    KeyError
        If the key is not in the table (a programming error, not user input).
    """
    zh, en = _table()[key]
    return zh if check_lang(lang) == "zh" else en


def message(key: str, lang: str = DEFAULT_LANG, /, **params) -> str:
    """The label for ``key`` in ``lang``, a ``str.format`` template, filled with ``params``.

    Used for the sentences a person reads about their data (reject reasons, repairs);
    the values in ``params`` (column names, codes, numbers) are inserted unchanged.

    Raises
    ------
    KeyError
        If the key is not in the table or a placeholder has no value (programming errors).

    Examples
    --------
    >>> message("reject.too_few_vertices", n=2)
    '只有 2 个拐点;多边形至少需要 3 个拐点'
    >>> message("reject.too_few_vertices", "en", n=2)
    'only 2 vertices; a polygon needs at least 3'
    >>> message("reject.no_code", "en", column="XMBH")
    "no project code in column 'XMBH'; every parcel needs a 项目编号"
    """
    return label(key, lang).format(**params)


def labels(prefix: str, lang: str = DEFAULT_LANG) -> dict[str, str]:
    """All labels under ``prefix`` as ``{name: text}``, e.g. ``labels("status")``.

    Examples
    --------
    >>> labels("status", "en")["under_construction"]
    'under construction'
    """
    check_lang(lang)
    i = 0 if lang == "zh" else 1
    p = prefix.rstrip(".") + "."
    return {k[len(p):]: v[i] for k, v in _table().items() if k.startswith(p)}
