/* agrigis field maps: layers, popups, legend and field tools on plain Leaflet 1.9.
 * Own code (MIT, part of agrigis). No network use, no external dependencies.
 * Every text that comes from data reaches the page through textContent or esc().
 */
(function () {
  'use strict';
  var A = window.agrigis = window.agrigis || {};
  A.maps = A.maps || [];

  // ---------------------------------------------------------------- helpers
  var ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
  function esc(s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function fmt(x, d) {
    var n = Number(x);
    if (x === null || x === '' || !isFinite(n)) return '';
    return n.toLocaleString('zh-CN', {minimumFractionDigits: d, maximumFractionDigits: d});
  }
  A.esc = esc;
  A.el = el;
  A.fmt = fmt;

  // ------------------------------------------------------ GCJ-02 (display only)
  var KA = 6378245.0, KEE = 0.00669342162296594323, PI = Math.PI;
  function inChina(lon, lat) { return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271; }
  function tLat(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return r;
  }
  function tLon(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return r;
  }
  function wgs2gcj(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    var dLat = tLat(lon - 105.0, lat - 35.0), dLon = tLon(lon - 105.0, lat - 35.0);
    var rad = lat / 180.0 * PI, m = Math.sin(rad);
    m = 1 - KEE * m * m;
    var sq = Math.sqrt(m);
    dLat = (dLat * 180.0) / ((KA * (1 - KEE)) / (m * sq) * PI);
    dLon = (dLon * 180.0) / (KA / sq * Math.cos(rad) * PI);
    return [lon + dLon, lat + dLat];
  }
  function gcj2wgs(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    var w = [lon, lat];
    for (var i = 0; i < 30; i++) {
      var g = wgs2gcj(w[0], w[1]), dx = g[0] - lon, dy = g[1] - lat;
      w = [w[0] - dx, w[1] - dy];
      if (Math.abs(dx) < 1e-11 && Math.abs(dy) < 1e-11) break;
    }
    return w;
  }
  A.wgs2gcj = wgs2gcj;
  A.gcj2wgs = gcj2wgs;

  // ------------------------------------------- ellipsoidal measures (GRS80)
  var GA = 6378137.0, GF = 1 / 298.257222101, GE2 = GF * (2 - GF), GE = Math.sqrt(GE2), RAD = PI / 180;
  function qAuthalic(phi) {
    var s = Math.sin(phi);
    return (1 - GE2) * (s / (1 - GE2 * s * s) - (1 / (2 * GE)) * Math.log((1 - GE * s) / (1 + GE * s)));
  }
  /** Area in m² of a ring [[lon, lat], ...] on the GRS80 ellipsoid (cylindrical equal-area plane). */
  function areaM2(ring) {
    var s = 0, n = ring.length;
    if (n < 3) return 0;
    var lon0 = ring[0][0];
    for (var i = 0; i < n; i++) {
      var p = ring[i], q = ring[(i + 1) % n];
      var x1 = GA * (p[0] - lon0) * RAD, y1 = GA * qAuthalic(p[1] * RAD) / 2;
      var x2 = GA * (q[0] - lon0) * RAD, y2 = GA * qAuthalic(q[1] * RAD) / 2;
      s += x1 * y2 - x2 * y1;
    }
    return Math.abs(s) / 2;
  }
  /** Length in m of a path [[lon, lat], ...] on GRS80 (local radii per segment; <1e-5 relative for field distances). */
  function lengthM(path) {
    var s = 0;
    for (var i = 1; i < path.length; i++) {
      var p = path[i - 1], q = path[i], phi = (p[1] + q[1]) / 2 * RAD;
      var w = 1 - GE2 * Math.sin(phi) * Math.sin(phi);
      var M = GA * (1 - GE2) / Math.pow(w, 1.5), N = GA / Math.sqrt(w);
      var dy = M * (q[1] - p[1]) * RAD, dx = N * Math.cos(phi) * (q[0] - p[0]) * RAD;
      s += Math.sqrt(dx * dx + dy * dy);
    }
    return s;
  }
  A.areaM2 = areaM2;
  /** Open the popup (or tooltip, ``ev = 'mouseover'``) of feature ``i`` of layer ``id`` (tests, links).
   * Returns a Promise that resolves once the map is still again: an opened popup pans the map
   * into view, and a tap during that pan lands on the map and closes the popup. */
  A.openPopup = function (id, i, ev) {
    var g = A.maps[0].layers[id], map = A.maps[0].map;
    if (g.count) {  // a ParcelBatch
      g._hit = i;
      var c = g.itemCenter(i), pt = g._map.latLngToLayerPoint(c);
      g._containsPoint(pt);  // the parcel drawn on top at its centre, as a click would find
      g._hit = g._hit === -1 ? i : g._hit;
      if (ev === 'mouseover') { g.fire('mouseover', {latlng: c}); g.openTooltip(c); }
      else g.openPopup(c);
      return still(map);
    }
    var l = g.getLayers()[i];
    var ll = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
    l.fire(ev || 'click', {latlng: ll}, true);
    return still(map);
  };
  function still(map) {
    return new Promise(function (done) {
      if (map._panAnim && map._panAnim._inProgress) map.once('moveend', function () { done(true); });
      else done(true);
    });
  }
  /** Number of features of layer ``id``. */
  A.count = function (id) { var g = A.maps[0].layers[id]; return g.count ? g.count() : g.getLayers().length; };
  /** Lat/lng rings of feature ``i`` of layer ``id``. */
  A.latlngs = function (id, i) {
    var g = A.maps[0].layers[id];
    if (g.count) return g.itemLatLngs(i);
    var ll = g.getLayers()[i].getLatLngs();
    return Array.isArray(ll[0]) ? ll : [ll];
  };
  A.lengthM = lengthM;
  A.M2_PER_MU = 2000 / 3;

  // ------------------------------------------------------------- styling
  function styleFor(spec, p) {
    var st = {};
    var k;
    for (k in spec.style.base || {}) st[k] = spec.style.base[k];
    var br = spec.style.breaks;
    if (br) {
      var x = Number(p[br.field]), c = br.nodata;
      if (p[br.field] !== null && p[br.field] !== undefined && isFinite(x)) {
        c = br.colors[br.colors.length - 1];
        for (var i = 0; i < br.edges.length; i++) { if (x < br.edges[i]) { c = br.colors[i]; break; } }
      }
      st.fillColor = c;
    }
    // classes after breaks: a county outside a target's pilot area is not "no data"
    (spec.style.by || []).forEach(function (b) {
      var v = b.values[p[b.field]];
      if (v) for (k in v) st[k] = v[k];
    });
    return st;
  }

  // -------------------------------------------------------------- popups
  function cell(cfg, p, row) {
    var v = p[row[1]], kind = row[2] || 'text';
    if (v === null || v === undefined || v === '') return '';
    if (kind.indexOf('lookup:') === 0) {
      var t = (cfg.lookups[kind.slice(7)] || {})[v];
      return t ? t : String(v);
    }
    if (kind === 'mu') return fmt(v, 1) + ' ' + cfg.labels.mu;
    if (kind === 'wan_mu') return fmt(v, 2) + ' ' + cfg.labels.wan_mu;
    if (kind === 'pct') return fmt(v, 1) + ' %';
    if (kind === 'num') return fmt(v, 2);
    if (kind === 'int') return String(v);
    return String(v);
  }
  /* x position of each date: by calendar time when every date parses, else evenly spaced. */
  function dateScale(t, W, P) {
    var ms = t.map(function (d) { return Date.parse(String(d).slice(0, 10)); });
    var ok = ms.every(function (x) { return isFinite(x); }) && ms[ms.length - 1] > ms[0];
    var t0 = ms[0], t1 = ms[ms.length - 1];
    var at = function (d) {
      var x = Date.parse(String(d).slice(0, 10));
      return isFinite(x) ? P + (Math.min(Math.max(x, t0), t1) - t0) / (t1 - t0) * (W - 2 * P) : null;
    };
    return {x: function (i) { return ok ? at(t[i]) : P + i * (W - 2 * P) / (t.length - 1); }, at: ok ? at : function () { return null; }};
  }
  /* A small chart of a series; ``mk`` = [[window start, end] or null, [[date, text], ...]]
   * shades the window and draws a dashed line at each marked date (first flood, peak). */
  function trendSvg(ts, label, mk) {
    if (!ts || !ts[0] || ts[0].length < 2) return '';
    var t = ts[0], v = ts[1].map(function (x) { return x === null ? NaN : Number(x); }), W = 240, H = 64, P = 4;
    var ok = v.filter(function (x) { return isFinite(x); });
    if (ok.length < 2) return '';
    var lo = Math.min.apply(null, ok), hi = Math.max.apply(null, ok), span = (hi - lo) || 1;
    var sc = dateScale(t, W, P), pts = [], extra = '', notes = [];
    v.forEach(function (x, i) {
      if (!isFinite(x)) return;
      pts.push(sc.x(i).toFixed(1) + ',' + (H - P - (x - lo) / span * (H - 2 * P)).toFixed(1));
    });
    if (mk && mk[0]) {
      var a = sc.at(mk[0][0]), b = sc.at(mk[0][1]);
      if (a !== null && b !== null) {
        extra += '<rect class="ag-trend-window" x="' + a.toFixed(1) + '" y="0" width="' + Math.max(b - a, 1).toFixed(1) +
          '" height="' + H + '" fill="#9ecae1" fill-opacity="0.45"/>';
        notes.push(esc(mk[0][0]) + ' – ' + esc(mk[0][1]));
      }
    }
    var marks = '';
    ((mk && mk[1]) || []).forEach(function (m) {
      var x = sc.at(m[0]);
      if (x === null) return;
      marks += '<line class="ag-trend-mark" x1="' + x.toFixed(1) + '" x2="' + x.toFixed(1) + '" y1="0" y2="' + H +
        '" stroke="#d7191c" stroke-width="1.5" stroke-dasharray="3 2"/>';
      notes.push(esc(m[1]) + ' ' + esc(m[0]));
    });
    return '<div class="ag-trend"><div class="ag-trend-h">' + esc(label) + ' ' +
      esc(fmt(lo, 2)) + ' – ' + esc(fmt(hi, 2)) + '</div>' +
      '<svg width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '" role="img">' + extra +
      '<polyline fill="none" stroke="#2b7a0b" stroke-width="2" points="' + pts.join(' ') + '"/>' + marks + '</svg>' +
      '<div class="ag-trend-t"><span>' + esc(t[0]) + '</span><span>' + esc(t[t.length - 1]) + '</span></div>' +
      (notes.length ? '<div class="ag-trend-n">' + notes.join(' · ') + '</div>' : '') + '</div>';
  }
  function popupHtml(cfg, spec, p) {
    var pp = spec.popup, h = '<div class="ag-popup">';
    if (pp.title) h += '<div class="ag-popup-title">' + esc(cell(cfg, p, [null, pp.title, pp.titleKind])) + '</div>';
    h += '<table>';
    pp.rows.forEach(function (row) {
      var txt = cell(cfg, p, row);
      if (txt !== '') h += '<tr><th>' + esc(row[0]) + '</th><td>' + esc(txt) + '</td></tr>';
    });
    h += '</table>';
    if (pp.series && p[pp.series.field]) {
      var ts = p[pp.series.field];
      h += trendSvg(pp.series.dates ? [pp.series.dates, ts] : ts, pp.series.label,
                    pp.series.marks ? p[pp.series.marks] : null);
    }
    if (spec.note) h += '<div class="ag-popup-note">' + esc(spec.note) + '</div>';
    return h + '</div>';
  }
  /* The popup: escaped HTML, plus the 现场核查 button (maps/assets/inspect.js) on parcels. */
  function popupContent(cfg, spec, p) {
    var h = popupHtml(cfg, spec, p);
    if (!spec.inspect || !A.inspect || !cfg.inspect) return h;
    var d = el('div', 'ag-popup-wrap');
    d.innerHTML = h;  // built by popupHtml: every value escaped
    d.appendChild(A.inspect.button(p));
    return d;
  }
  function tooltipEl(cfg, spec, p) {
    var parts = [];
    spec.tooltip.forEach(function (row) { var t = cell(cfg, p, row); if (t !== '') parts.push(t); });
    return el('span', 'ag-tip', parts.join(' · '));
  }

  // -------------------------------------------------------------- layers
  /* Compact layer data (maps/encode.py): integer coordinates (1/s degree), each ring or
   * line as [x0, y0, dx1, dy1, ...]; properties column-wise, codes via tables in d.e. */
  function decodeFlat(a, s) {
    var out = new Array(a.length / 2), x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out[i / 2] = new L.LatLng(y / s, x / s); }
    return out;
  }
  // properties of feature i: columns of values, enumerated columns as indexes (-1 = null)
  function decodeProps(d, keys, i) {
    var p = {};
    for (var k = 0; k < keys.length; k++) {
      var key = keys[k], v = d.p[key][i];
      if (d.e[key]) v = v < 0 ? null : d.e[key][v];
      p[key] = v;
    }
    return p;
  }
  function decode(d, fn) {
    var keys = Object.keys(d.p), s = d.s;
    for (var i = 0; i < d.n; i++) {
      var p = decodeProps(d, keys, i);
      var kind = typeof d.t === 'number' ? d.t : d.t[i], g = d.g[i], parts;
      if (kind === 0) parts = g.map(function (poly) { return poly.map(function (r) { return decodeFlat(r, s); }); });
      else parts = g.map(function (a) { return decodeFlat(a, s); });
      if (kind === 0 && parts.length === 1) parts = parts[0];
      if (kind === 1 && parts.length === 1) parts = parts[0];
      fn(kind, parts, p);
    }
  }
  A.decode = decode;
  function kindOf(d) { return typeof d.t === 'number' ? d.t : (d.t.length ? d.t[0] : 0); }
  /* ParcelBatch: all parcels of a layer as ONE Leaflet path on the shared canvas renderer.
   * 20,000 L.Polygon objects cost seconds to create and draw; here each parcel is a few
   * numbers (Web Mercator unit coordinates), parcels of the same style are filled with one
   * canvas call, and hit testing (click, hover) is a bbox scan plus point-in-polygon. */
  var TAU = 2 * Math.PI;
  function toU(lng) { return (lng + 180) / 360; }
  function toV(lat) {
    var s = Math.sin(Math.max(Math.min(lat, 85.0511287798), -85.0511287798) * RAD);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (2 * TAU);
  }
  function fromUV(u, v) { return L.latLng(Math.atan(Math.sinh(Math.PI * (1 - 2 * v))) / RAD, u * 360 - 180); }
  function decodeUV(a, s) {
    var out = new Float64Array(a.length), x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out[i] = toU(x / s); out[i + 1] = toV(y / s); }
    return out;
  }
  function styleKey(st) {
    return [st.fillColor, st.fillOpacity, st.color, st.weight, st.opacity, st.dashArray || '', st.fill !== false,
      st.stroke !== false, !!st.hatch].join('|');
  }
  var HATCH = {};
  function hatchPattern(ctx, color) {
    if (!HATCH[color]) {
      var c = document.createElement('canvas'), g;
      c.width = c.height = 8;
      g = c.getContext('2d');
      g.strokeStyle = color; g.lineWidth = 1.6;
      g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
      HATCH[color] = ctx.createPattern(c, 'repeat');
    }
    return HATCH[color];
  }
  var ParcelBatch = L.Path.extend({
    initialize: function (items, options) {
      L.setOptions(this, options);
      this._items = items;
      var groups = {}, order = [], b = [Infinity, Infinity, -Infinity, -Infinity];
      items.forEach(function (it, i) {
        var k = styleKey(it.style);
        if (!groups[k]) { groups[k] = {style: it.style, idx: []}; order.push(k); }
        groups[k].idx.push(i);
        b[0] = Math.min(b[0], it.bbox[0]); b[1] = Math.min(b[1], it.bbox[1]);
        b[2] = Math.max(b[2], it.bbox[2]); b[3] = Math.max(b[3], it.bbox[3]);
      });
      this._groups = order.map(function (k) {
        var st = groups[k].style;
        st.dash = st.dashArray ? String(st.dashArray).split(/[ ,]+/).map(Number) : [];
        return groups[k];
      });
      this._ubox = b;
      this._hit = -1;
    },
    count: function () { return this._items.length; },
    itemLatLngs: function (i) {
      return this._items[i].rings.map(function (r) {
        var out = [];
        for (var k = 0; k < r.length; k += 2) out.push(fromUV(r[k], r[k + 1]));
        return out;
      });
    },
    itemCenter: function (i) { var b = this._items[i].bbox; return fromUV((b[0] + b[2]) / 2, (b[1] + b[3]) / 2); },
    getBounds: function () { var b = this._ubox; return L.latLngBounds(fromUV(b[0], b[3]), fromUV(b[2], b[1])); },
    _scale: function () { return this._map.options.crs.scale(this._map.getZoom()); },
    _project: function () {
      var S = this._scale(), o = this._map.getPixelOrigin(), b = this._ubox;
      this._pxBounds = L.bounds(L.point(b[0] * S - o.x, b[1] * S - o.y), L.point(b[2] * S - o.x, b[3] * S - o.y));
    },
    _update: function () { if (this._map) this._updatePath(); },
    _updatePath: function () {
      var r = this._renderer, ctx = r._ctx;
      if (!ctx || !r._drawing) return;
      var S = this._scale(), o = this._map.getPixelOrigin(), items = this._items;
      var vb = r._redrawBounds || r._bounds;
      var u0 = (vb.min.x + o.x) / S, v0 = (vb.min.y + o.y) / S, u1 = (vb.max.x + o.x) / S, v1 = (vb.max.y + o.y) / S;
      var stroke = this._map.getZoom() >= (this.options.minStrokeZoom || 0);
      this._groups.forEach(function (g) {
        var st = g.style, any = false;
        ctx.beginPath();
        for (var j = 0; j < g.idx.length; j++) {
          var it = items[g.idx[j]], bb = it.bbox;
          if (bb[2] < u0 || bb[0] > u1 || bb[3] < v0 || bb[1] > v1) continue;
          any = true;
          for (var q = 0; q < it.rings.length; q++) {
            var rg = it.rings[q];
            ctx.moveTo(rg[0] * S - o.x, rg[1] * S - o.y);
            for (var k = 2; k < rg.length; k += 2) ctx.lineTo(rg[k] * S - o.x, rg[k + 1] * S - o.y);
            ctx.closePath();
          }
        }
        if (!any) return;
        if (st.fill !== false) {
          ctx.globalAlpha = st.fillOpacity == null ? 0.2 : st.fillOpacity;
          ctx.fillStyle = st.fillColor || st.color;
          ctx.fill('evenodd');
          if (st.hatch) {  // under construction: diagonal hatching over the light fill
            ctx.globalAlpha = 0.9;
            ctx.fillStyle = hatchPattern(ctx, st.fillColor || st.color);
            ctx.fill('evenodd');
          }
        }
        if (stroke && st.stroke !== false && st.weight !== 0) {
          ctx.setLineDash(st.dash);
          ctx.globalAlpha = st.opacity == null ? 1 : st.opacity;
          ctx.lineWidth = st.weight == null ? 1 : st.weight;
          ctx.strokeStyle = st.color;
          ctx.lineCap = 'round'; ctx.lineJoin = 'round';
          ctx.stroke();
        }
      });
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
    },
    _containsPoint: function (p) {
      var S = this._scale(), o = this._map.getPixelOrigin();
      var u = (p.x + o.x) / S, v = (p.y + o.y) / S, items = this._items;
      for (var i = items.length - 1; i >= 0; i--) {
        var bb = items[i].bbox;
        if (u < bb[0] || u > bb[2] || v < bb[1] || v > bb[3]) continue;
        var inside = false, rings = items[i].rings;
        for (var q = 0; q < rings.length; q++) {
          var r = rings[q], n = r.length;
          for (var a = 0, b = n - 2; a < n; b = a, a += 2) {
            if (((r[a + 1] > v) !== (r[b + 1] > v)) && (u < (r[b] - r[a]) * (v - r[a + 1]) / (r[b + 1] - r[a + 1]) + r[a])) inside = !inside;
          }
        }
        if (inside) { this._hit = i; return true; }
      }
      return false;
    }
  });

  function makeBatch(map, cfg, spec, renderer) {
    var d = spec.data, s = d.s, items = [];
    var keys = Object.keys(d.p);
    for (var i = 0; i < d.n; i++) {
      var p = decodeProps(d, keys, i);
      var rings = [], bb = [Infinity, Infinity, -Infinity, -Infinity];
      d.g[i].forEach(function (poly) {
        poly.forEach(function (r) {
          var uv = decodeUV(r, s);
          for (var q = 0; q < uv.length; q += 2) {
            if (uv[q] < bb[0]) bb[0] = uv[q]; if (uv[q] > bb[2]) bb[2] = uv[q];
            if (uv[q + 1] < bb[1]) bb[1] = uv[q + 1]; if (uv[q + 1] > bb[3]) bb[3] = uv[q + 1];
          }
          rings.push(uv);
        });
      });
      items.push({p: p, rings: rings, bbox: bb, style: styleFor(spec, p)});
    }
    var interactive = spec.interactive !== false;
    var lyr = new ParcelBatch(items, {renderer: renderer, interactive: interactive, weight: 3,
      minStrokeZoom: d.n > 1000 ? 12 : 0});
    if (interactive && spec.popup) {
      lyr.bindPopup(function (l) { return popupContent(cfg, spec, l._items[l._hit].p); }, {maxWidth: 300, autoPanPaddingTopLeft: L.point(50, 56)});
    }
    if (interactive && spec.tooltip) {
      lyr.bindTooltip('', {sticky: true});
      var shown = -1;
      var tip = function () {
        if (lyr._hit === shown || lyr._hit < 0) return;
        shown = lyr._hit;
        lyr.setTooltipContent(tooltipEl(cfg, spec, items[shown].p));
      };
      lyr.on('mouseover mousemove', tip);
      lyr.on('mouseout', function () { shown = -1; });
    }
    return lyr;
  }

  function makeLayer(map, cfg, spec, renderer) {
    if (spec.kind === 'image') {
      return L.imageOverlay(spec.url, spec.bounds, {opacity: spec.opacity == null ? 0.8 : spec.opacity,
        interactive: false, className: spec.pixelated ? 'ag-pixelated' : ''});
    }
    if (spec.batch && kindOf(spec.data) === 0 && typeof spec.data.t === 'number') return makeBatch(map, cfg, spec, renderer);
    var interactive = spec.interactive !== false;
    var lyr = L.featureGroup(), d = spec.data;
    // many small parcels: outlines (dashed ones above all) cost most of the drawing time and
    // are sub-pixel at city scale, so below this zoom only fills are drawn
    var minStroke = d.n > 1000 && kindOf(d) === 0 ? 12 : 0, stroke = map.getZoom() >= minStroke;
    decode(d, function (kind, parts, p) {
      var st = styleFor(spec, p), layer;
      st.renderer = renderer; st.interactive = interactive;
      if (!stroke && st.stroke !== false) { st.stroke = false; st._stroke = true; }
      if (kind === 0) layer = L.polygon(parts, st);
      else if (kind === 1) layer = L.polyline(parts, st);
      else { st.radius = st.radius || 6; layer = L.circleMarker(parts[0], st); }
      layer.feature = {properties: p};
      lyr.addLayer(layer);
    });
    if (minStroke) {
      map.on('zoomend', function () {
        var on = map.getZoom() >= minStroke;
        if (on === stroke) return;
        stroke = on;
        lyr.eachLayer(function (l) { if (l.options._stroke) l.options.stroke = on; });
      });
    }
    // one popup and one tooltip per layer (not per feature): fast with 20,000 parcels
    if (interactive && spec.popup) {
      lyr.bindPopup(function (l) { return popupContent(cfg, spec, l.feature.properties); }, {maxWidth: 300, autoPanPaddingTopLeft: L.point(50, 56)});
    }
    if (interactive && spec.tooltip) {
      lyr.bindTooltip(function (l) { return tooltipEl(cfg, spec, l.feature.properties); }, {sticky: true});
    }
    if (spec.labels) {
      var g = L.layerGroup([lyr]);
      spec.labels.forEach(function (lb) {
        L.tooltip({permanent: true, direction: 'center', className: 'ag-label', interactive: false})
          .setLatLng([lb[0], lb[1]]).setContent(el('span', null, lb[2])).addTo(g);
      });
      g.getLayers = function () { return lyr.getLayers(); };
      return g;
    }
    return lyr;
  }

  // -------------------------------------------------------------- legend
  function swatch(s) {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('width', '22'); svg.setAttribute('height', '14'); svg.setAttribute('class', 'ag-sw');
    var shape = document.createElementNS('http://www.w3.org/2000/svg', s.kind === 'line' ? 'line' : 'rect');
    if (s.kind === 'line') {
      shape.setAttribute('x1', '1'); shape.setAttribute('y1', '7'); shape.setAttribute('x2', '21'); shape.setAttribute('y2', '7');
    } else {
      shape.setAttribute('x', '2'); shape.setAttribute('y', '2'); shape.setAttribute('width', '18'); shape.setAttribute('height', '10');
      shape.setAttribute('fill', s.fillColor || 'none');
      shape.setAttribute('fill-opacity', s.fillOpacity == null ? 1 : s.fillOpacity);
      if (s.hatch) {
        var NS = 'http://www.w3.org/2000/svg', id = 'ag-hatch-' + (++swatch.n);
        var pat = document.createElementNS(NS, 'pattern'), ln = document.createElementNS(NS, 'line');
        pat.setAttribute('id', id); pat.setAttribute('width', '4'); pat.setAttribute('height', '4');
        pat.setAttribute('patternUnits', 'userSpaceOnUse'); pat.setAttribute('patternTransform', 'rotate(45)');
        ln.setAttribute('x1', '0'); ln.setAttribute('y1', '0'); ln.setAttribute('x2', '0'); ln.setAttribute('y2', '4');
        ln.setAttribute('stroke', s.fillColor || '#666'); ln.setAttribute('stroke-width', '2');
        pat.appendChild(ln);
        var defs = document.createElementNS(NS, 'defs'); defs.appendChild(pat); svg.appendChild(defs);
        var under = shape.cloneNode(); svg.appendChild(under);
        shape.setAttribute('fill', 'url(#' + id + ')'); shape.setAttribute('fill-opacity', '1');
      }
    }
    shape.setAttribute('stroke', s.color || 'none');
    shape.setAttribute('stroke-width', Math.min(s.weight == null ? 1.5 : s.weight, 3));
    if (s.dashArray) shape.setAttribute('stroke-dasharray', s.dashArray);
    svg.appendChild(shape);
    return svg;
  }
  swatch.n = 0;
  function legendControl(cfg) {
    var C = L.Control.extend({
      options: {position: 'bottomright'},
      onAdd: function () {
        var box = el('div', 'ag-legend leaflet-bar');
        var head = el('div', 'ag-legend-head', cfg.labels.legend);
        var body = el('div', 'ag-legend-body');
        head.setAttribute('role', 'button');
        head.addEventListener('click', function () { box.classList.toggle('ag-collapsed'); });
        box.appendChild(head); box.appendChild(body);
        cfg.legend.forEach(function (sec) {
          var s = el('div', 'ag-legend-sec');
          if (sec.title) s.appendChild(el('div', 'ag-legend-title', sec.title));
          sec.items.forEach(function (it) {
            var row = el('div', 'ag-legend-row');
            row.appendChild(swatch(it.swatch));
            row.appendChild(el('span', null, it.label));
            s.appendChild(row);
          });
          if (sec.note) s.appendChild(el('div', 'ag-legend-note', sec.note));
          body.appendChild(s);
        });
        if (window.innerWidth < 600) box.classList.add('ag-collapsed');
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      }
    });
    return new C();
  }

  // ------------------------------------------------------ the field tools
  var SVG0 = '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="#222" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">';
  var ICONS = A.ICONS = {
    fullscreen: SVG0 + '<path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/></svg>',
    locate: SVG0 + '<circle cx="12" cy="12" r="6"/><circle cx="12" cy="12" r="1.5" fill="#222"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4"/></svg>',
    measure: SVG0 + '<path d="M3 17 17 3l4 4L7 21z"/><path d="M7 13l2 2M10 10l2 2M13 7l2 2"/></svg>',
    draw: SVG0 + '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13 7l4 4"/></svg>',
    imagery: SVG0 + '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 16l5-5 4 4 3-3 6 6"/><circle cx="16" cy="8.5" r="1.5"/></svg>',
    inspect: SVG0 + '<path d="M9 4h6l1 2h3a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h3z"/><circle cx="12" cy="12.5" r="3.5"/></svg>'
  };
  function Panel(map) {
    var C = L.Control.extend({
      options: {position: 'bottomleft'},
      onAdd: function () {
        var d = el('div', 'ag-panel leaflet-bar');
        d.style.display = 'none';
        L.DomEvent.disableClickPropagation(d);
        return d;
      }
    });
    var c = new C();
    c.addTo(map);
    var box = c.getContainer();
    return {
      box: box,
      show: function (nodes) {
        box.textContent = '';
        nodes.forEach(function (n) { box.appendChild(n); });
        box.style.display = nodes.length ? '' : 'none';
      }
    };
  }

  function toolbar(map, cfg, state) {
    var T = cfg.labels;
    var panel = Panel(map);
    state.panel = panel;
    var toLonLat = function (ll) { return cfg.gcj ? gcj2wgs(ll.lng, ll.lat) : [ll.lng, ll.lat]; };
    var sketchLayer = L.layerGroup().addTo(map);
    var drawnLayer = L.featureGroup().addTo(map);
    state.drawn = [];
    var mode = null, pts = [], buttons = {};

    function button(bar, key, icon, title, fn) {
      var b = el('a', 'ag-btn ag-btn-' + key);
      b.innerHTML = ICONS[icon]; // our own constant SVG, no data
      b.href = '#'; b.title = title; b.setAttribute('role', 'button'); b.setAttribute('aria-label', title);
      L.DomEvent.on(b, 'click', function (e) { L.DomEvent.stop(e); fn(); });
      bar.appendChild(b);
      buttons[key] = b;
      return b;
    }
    function setMode(m) {
      mode = m; pts = []; sketchLayer.clearLayers();
      Object.keys(buttons).forEach(function (k) { buttons[k].classList.toggle('ag-active', k === m); });
      if (m) { map.doubleClickZoom.disable(); map.getContainer().classList.add('ag-sketching'); }
      else { map.doubleClickZoom.enable(); map.getContainer().classList.remove('ag-sketching'); panel.show([]); }
    }
    function measureText() {
      var path = pts.map(toLonLat);
      var out = [el('div', 'ag-panel-title', T.measure)];
      var len = lengthM(path);
      out.push(el('div', 'ag-m-len', T.distance + ': ' + (len >= 1000 ? fmt(len / 1000, 3) + ' km' : fmt(len, 1) + ' m')));
      if (path.length >= 3) {
        var a = areaM2(path);
        out.push(el('div', 'ag-m-area', T.area + ': ' + fmt(a / A.M2_PER_MU, 2) + ' ' + T.mu + ' (' + fmt(a, 0) + ' m²)'));
      }
      out.push(el('div', 'ag-hint', T.measure_hint));
      return out;
    }
    function redraw() {
      sketchLayer.clearLayers();
      if (!pts.length) return;
      if (pts.length >= 3) L.polygon(pts, {color: '#d7191c', weight: 2, dashArray: '4 3', fillOpacity: 0.1}).addTo(sketchLayer);
      else L.polyline(pts, {color: '#d7191c', weight: 2, dashArray: '4 3'}).addTo(sketchLayer);
      pts.forEach(function (p) { L.circleMarker(p, {radius: 4, color: '#d7191c', fillOpacity: 1}).addTo(sketchLayer); });
    }
    function finishDraw() {
      if (pts.length < 3) return;
      var poly = L.polygon(pts.slice(), {color: '#7b3294', weight: 3, fillOpacity: 0.15});
      poly.addTo(drawnLayer);
      state.drawn.push(poly);
      pts = []; redraw();
      drawPanel();
    }
    function exportGeoJSON() {
      var code = state.codeInput ? state.codeInput.value.trim() : '';
      var name = state.nameInput ? state.nameInput.value.trim() : '';
      var fc = {type: 'FeatureCollection', features: state.drawn.map(function (poly, i) {
        var ring = poly.getLatLngs()[0].map(function (ll) {
          var p = toLonLat(ll);
          return [Math.round(p[0] * 1e7) / 1e7, Math.round(p[1] * 1e7) / 1e7];
        });
        var sgn = 0;
        for (var k = 0; k < ring.length; k++) { var a = ring[k], b = ring[(k + 1) % ring.length]; sgn += (b[0] - a[0]) * (b[1] + a[1]); }
        if (sgn > 0) ring.reverse(); // RFC 7946: exterior ring counter-clockwise
        ring.push(ring[0].slice());
        return {type: 'Feature', properties: {
          project_code: code || null, project_name: name || null,
          area_mu: Math.round(areaM2(ring) / A.M2_PER_MU * 100) / 100,
          note: T.draw_note, sketch: i + 1
        }, geometry: {type: 'Polygon', coordinates: [ring]}};
      })};
      state.lastExport = fc;
      var blob = new Blob([JSON.stringify(fc, null, 1)], {type: 'application/geo+json'});
      var a = document.createElement('a');
      var d = new Date();
      a.download = 'agrigis-sketch-' + d.toISOString().slice(0, 10) + '.geojson';
      a.href = URL.createObjectURL(blob);
      document.body.appendChild(a); a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      return fc;
    }
    A.exportSketch = exportGeoJSON;
    function drawPanel() {
      var out = [el('div', 'ag-panel-title', T.draw)];
      out.push(el('div', 'ag-hint', T.draw_hint));
      var code = el('input', 'ag-in-code'); code.placeholder = T.project_code; code.value = state.codeInput ? state.codeInput.value : '';
      var name = el('input', 'ag-in-name'); name.placeholder = T.project_name; name.value = state.nameInput ? state.nameInput.value : '';
      state.codeInput = code; state.nameInput = name;
      out.push(code); out.push(name);
      var row = el('div', 'ag-row');
      var fin = el('button', 'ag-finish', T.finish); fin.type = 'button';
      fin.addEventListener('click', finishDraw);
      var exp = el('button', 'ag-export', T['export'] + ' (' + state.drawn.length + ')'); exp.type = 'button';
      exp.disabled = !state.drawn.length;
      exp.addEventListener('click', exportGeoJSON);
      var clr = el('button', 'ag-clear', T.clear); clr.type = 'button';
      clr.addEventListener('click', function () { drawnLayer.clearLayers(); state.drawn = []; pts = []; redraw(); drawPanel(); });
      row.appendChild(fin); row.appendChild(exp); row.appendChild(clr);
      out.push(row);
      panel.show(out);
    }
    map.on('click', function (e) {
      if (!mode) return;
      pts.push(e.latlng); redraw();
      if (mode === 'measure') panel.show(measureText());
    });
    map.on('popupopen', function () { if (mode) map.closePopup(); });  // sketching over parcels
    map.on('dblclick', function () {
      if (mode === 'draw') finishDraw();
    });

    var Bar = L.Control.extend({
      options: {position: 'topleft'},
      onAdd: function () {
        var bar = el('div', 'leaflet-bar ag-toolbar');
        button(bar, 'fullscreen', 'fullscreen', T.fullscreen, function () {
          var c = map.getContainer();
          var on = !c.classList.contains('ag-fullscreen');
          c.classList.toggle('ag-fullscreen', on);
          document.body.classList.toggle('ag-has-fullscreen', on);
          if (on && c.requestFullscreen) { c.requestFullscreen().catch(function () {}); }
          else if (!on && document.fullscreenElement && document.exitFullscreen) { document.exitFullscreen().catch(function () {}); }
          setTimeout(function () { map.invalidateSize(); }, 50);
        });
        button(bar, 'locate', 'locate', T.locate, function () {
          panel.show([el('div', 'ag-hint', T.locating)]);
          map.locate({setView: false, enableHighAccuracy: true, timeout: 15000, maximumAge: 10000});
        });
        button(bar, 'measure', 'measure', T.measure, function () {
          if (mode === 'measure') { setMode(null); return; }
          setMode('measure'); panel.show(measureText());
        });
        button(bar, 'draw', 'draw', T.draw, function () {
          if (mode === 'draw') { setMode(null); return; }
          setMode('draw'); drawPanel();
        });
        var picker = el('input', 'ag-imagery-file');
        picker.type = 'file'; picker.accept = '.pmtiles'; picker.style.display = 'none';
        picker.addEventListener('change', function () {
          if (picker.files && picker.files[0]) openLocalImagery(map, state, picker.files[0]);
          picker.value = '';
        });
        bar.appendChild(picker);
        button(bar, 'imagery', 'imagery', T.imagery_open, function () { picker.click(); });
        if (A.inspect && cfg.inspect) A.inspect.toolbar(bar, button);
        L.DomEvent.disableClickPropagation(bar);
        return bar;
      }
    });
    new Bar().addTo(map);

    var here = L.layerGroup().addTo(map);
    map.on('locationfound', function (e) {
      var ll = e.latlng;
      if (cfg.gcj) { var g = wgs2gcj(ll.lng, ll.lat); ll = L.latLng(g[1], g[0]); }
      here.clearLayers();
      L.circle(ll, {radius: e.accuracy, color: '#136aec', weight: 1, fillOpacity: 0.12, interactive: false}).addTo(here);
      L.circleMarker(ll, {radius: 7, color: '#fff', weight: 2, fillColor: '#136aec', fillOpacity: 1}).addTo(here);
      state.located = {lat: ll.lat, lng: ll.lng, accuracy: e.accuracy};
      map.setView(ll, Math.max(map.getZoom(), 15));
      panel.show([el('div', 'ag-loc', T.position + ': ' + fmt(e.latlng.lat, 6) + ', ' + fmt(e.latlng.lng, 6) +
        ' ±' + fmt(e.accuracy, 0) + ' m')]);
    });
    map.on('locationerror', function (e) {
      panel.show([el('div', 'ag-loc-err', T.locate_failed + ': ' + (e.message || ''))]);
    });
  }

  // ------------------------------------------- imagery carried by the map
  /* Tiles embedded by maps/imagery_tiles.py: {"z/x/y": base64}; the image type is told by
   * the first bytes (JPEG, PNG or WebP). No request leaves the page. */
  var BLANK = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';
  function mimeOf(b64) {
    if (b64.charAt(0) === '/') return 'image/jpeg';
    return b64.slice(0, 5) === 'UklGR' ? 'image/webp' : 'image/png';
  }
  var EmbeddedTiles = L.TileLayer.extend({
    getTileUrl: function (c) {
      var t = this._tiles64[c.z + '/' + c.x + '/' + c.y];
      return t ? 'data:' + mimeOf(t) + ';base64,' + t : BLANK;
    }
  });
  function embeddedLayer(e) {
    var l = new EmbeddedTiles('', {minNativeZoom: e.minNativeZoom, maxNativeZoom: e.maxNativeZoom, maxZoom: 19,
      bounds: e.bounds, attribution: esc(e.attribution || ''), className: 'ag-imagery'});
    l._tiles64 = e.tiles;
    return l;
  }
  A.embeddedLayer = embeddedLayer;
  /* A .pmtiles file the field team keeps on the phone, opened through the file chooser:
   * read in the browser (pmtiles.js, FileSource), never uploaded. MBTiles would need an
   * SQLite engine in the page; the map says how to convert it instead. */
  function openLocalImagery(map, state, file) {
    var T = state.cfg.labels;
    if (!/\.pmtiles$/i.test(file.name)) {
      state.panel.show([el('div', 'ag-loc-err', T.imagery_pmtiles_only)]);
      return Promise.resolve(null);
    }
    if (!window.pmtiles) {
      state.panel.show([el('div', 'ag-loc-err', T.imagery_failed)]);
      return Promise.resolve(null);
    }
    var p = new window.pmtiles.PMTiles(new window.pmtiles.FileSource(file));
    return p.getHeader().then(function (h) {
      if (state.localImagery) map.removeLayer(state.localImagery);
      var lyr = window.pmtiles.leafletRasterLayer(p, {maxNativeZoom: h.maxZoom, minNativeZoom: h.minZoom, maxZoom: 19,
        attribution: esc(file.name), className: 'ag-imagery'});
      state.localImagery = lyr;
      state.control._layers.forEach(function (o) { if (!o.overlay && map.hasLayer(o.layer)) map.removeLayer(o.layer); });
      lyr.addTo(map);
      lyr.bringToBack();
      state.control.addBaseLayer(lyr, esc(T.imagery_local + ': ' + file.name));
      state.panel.show([el('div', 'ag-hint', T.imagery_local + ': ' + file.name + ' (z' + h.minZoom + '–' + h.maxZoom + ')')]);
      if (h.maxLon > h.minLon) {
        var b = L.latLngBounds([h.minLat, h.minLon], [h.maxLat, h.maxLon]);
        if (!map.getBounds().intersects(b)) map.fitBounds(b);
      }
      return lyr;
    }).catch(function (err) {
      state.panel.show([el('div', 'ag-loc-err', T.imagery_failed + ': ' + (err && err.message || err))]);
      return null;
    });
  }
  A.openLocalImagery = function (file) { var st = A.maps[0]; return openLocalImagery(st.map, st, file); };

  /* A tile layer credits its source only once one of its tiles is actually drawn: a map
   * opened without network shows no OpenStreetMap credit over an empty background. */
  function creditWhenDrawn(map, layer, credit) {
    var shown = false;
    if (!credit) return layer;
    layer.on('tileload', function () {
      if (!shown && map.attributionControl) { map.attributionControl.addAttribution(credit); shown = true; }
    });
    layer.on('remove', function () {
      if (shown && map.attributionControl) { map.attributionControl.removeAttribution(credit); shown = false; }
    });
    return layer;
  }

  // ----------------------------------------------------------------- build
  A.build = function (map, cfg) {
    if (typeof cfg === 'string') cfg = JSON.parse(document.getElementById(cfg).textContent);
    var state = {map: map, cfg: cfg, layers: {}};
    var base = {}, overlays = {}, first = null;
    cfg.basemaps.forEach(function (b) {
      var tl = b.embedded ? [embeddedLayer(b.embedded)] : b.tiles.map(function (t) {
        return creditWhenDrawn(map, L.tileLayer(t.url, {subdomains: t.subdomains || 'abc', attribution: '',
          maxZoom: 19, maxNativeZoom: t.maxNativeZoom || 18, crossOrigin: false}), t.attribution || '');
      });
      var g = L.layerGroup(tl);
      base[esc(b.name)] = g;
      if (b.show || !first) first = g;
    });
    if (first) first.addTo(map);
    if (cfg.bounds) map.fitBounds(cfg.bounds, {padding: [10, 10], animate: false});
    var renderer = L.canvas({padding: 0.3, tolerance: 3});
    // layers that share another layer's geometries (maps/encode.py, geometry_of)
    var byId = {};
    cfg.layers.forEach(function (spec) { byId[spec.id] = spec; });
    cfg.layers.forEach(function (spec) {
      var d = spec.data;
      if (d && d.g && d.g.ref) { var o = byId[d.g.ref].data; d.g = o.g; d.t = o.t; }
    });
    cfg.layers.forEach(function (spec) {
      var lyr = makeLayer(map, cfg, spec, renderer);
      state.layers[spec.id] = lyr;
      if (spec.show !== false) lyr.addTo(map);
      if (spec.control !== false) overlays[esc(spec.name)] = lyr;
    });
    state.control = L.control.layers(base, overlays, {collapsed: window.innerWidth < 700 || Object.keys(overlays).length > 6, position: 'topright'}).addTo(map);
    L.control.scale({imperial: false, position: 'bottomleft'}).addTo(map);
    if (cfg.legend && cfg.legend.length) legendControl(cfg).addTo(map);
    if (cfg.attribution) map.attributionControl.addAttribution(esc(cfg.attribution));
    if (cfg.title) {
      var t = el('div', 'ag-title', cfg.title);
      map.getContainer().appendChild(t);
    }
    A.maps.push(state);
    if (A.inspect && cfg.inspect) A.inspect.start(state);
    toolbar(map, cfg, state);
    A.ready = true;
    document.documentElement.setAttribute('data-agrigis-ready', '1');
    return state;
  };
})();
