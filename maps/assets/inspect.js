/* agrigis field inspections (现场核查): a form in each parcel's popup, photos downscaled in
 * the browser, the GPS position, storage that survives a reload, a list and one export.
 * Own code (MIT, part of agrigis). No network use. Every text a person typed or a file
 * brought reaches the page through textContent / value only, never as HTML.
 *
 * Storage: IndexedDB (database "agrigis", store "inspections", one record per inspection,
 * photos inside as JPEG data: URLs); localStorage when IndexedDB is unavailable.
 * Export: one GeoJSON FeatureCollection (RFC 7946, WGS84 lon/lat), one Point per
 * inspection at the GPS position (null geometry without a fix), photos as data: URLs;
 * read back by `agrigis inspections import` (layers/inspections.py).
 */
(function () {
  'use strict';
  var A = window.agrigis = window.agrigis || {};
  var DB = 'agrigis', STORE = 'inspections', LS = 'agrigis.inspections';
  var I = A.inspect = {records: [], ready: null};

  function el(tag, cls, text) { return A.el(tag, cls, text); }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  // ------------------------------------------------------------- storage
  function openDb() {
    return new Promise(function (resolve) {
      if (!window.indexedDB) { resolve(null); return; }
      var req;
      try { req = indexedDB.open(DB, 1); } catch (e) { resolve(null); return; }
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: 'id'}); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { resolve(null); };
    });
  }
  function loadAll(db) {
    if (!db) {
      try { return Promise.resolve(JSON.parse(localStorage.getItem(LS) || '[]')); } catch (e) { return Promise.resolve([]); }
    }
    return new Promise(function (resolve, reject) {
      var req = db.transaction(STORE, 'readonly').objectStore(STORE).getAll();
      req.onsuccess = function () { resolve(req.result || []); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function put(rec) {
    return I.ready.then(function (db) {
      if (!db) {
        var all = I.records.filter(function (r) { return r.id !== rec.id; }).concat([rec]);
        localStorage.setItem(LS, JSON.stringify(all));
        return rec;
      }
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, 'readwrite');
        tx.objectStore(STORE).put(rec);
        tx.oncomplete = function () { resolve(rec); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function byTime(a, b) { return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0; }

  // -------------------------------------------------------------- photos
  /** A picture file → JPEG data: URL, longest side ≤ max px (canvas; EXIF dropped). */
  function downscale(file, max, quality) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        var s = Math.min(1, max / Math.max(img.naturalWidth, img.naturalHeight));
        var w = Math.max(1, Math.round(img.naturalWidth * s)), h = Math.max(1, Math.round(img.naturalHeight * s));
        var c = document.createElement('canvas');
        c.width = w; c.height = h;
        var g = c.getContext('2d');
        g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
        g.drawImage(img, 0, 0, w, h);
        URL.revokeObjectURL(url);
        resolve({data: c.toDataURL('image/jpeg', quality), width: w, height: h, name: String(file.name || '').slice(0, 120)});
      };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error(file.name)); };
      img.src = url;
    });
  }
  I.downscale = downscale;

  // ------------------------------------------------------------ position
  function locate(cb) {
    if (!navigator.geolocation) { cb(null, 'no geolocation'); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      cb({lon: p.coords.longitude, lat: p.coords.latitude, accuracy_m: p.coords.accuracy,
          time: new Date(p.timestamp).toISOString()});
    }, function (e) { cb(null, e && e.message); }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 30000});
  }

  // ---------------------------------------------------------------- form
  function field(labelText, input) {
    var row = el('label', 'ag-i-row');
    row.appendChild(el('span', 'ag-i-lab', labelText));
    row.appendChild(input);
    return row;
  }
  function openForm(p) {
    var st = I.state, C = st.cfg.inspect, T = C.labels;
    st.map.closePopup();
    var rec = {id: newId(), project_code: p.k == null ? null : String(p.k), project_name: p.n == null ? null : String(p.n),
      version: p.v == null ? null : String(p.v), finding: null, note: '', area_mu: null, photos: [], position: null};
    var box = el('div', 'ag-insp');
    box.setAttribute('role', 'dialog');
    box.appendChild(el('div', 'ag-panel-title', T.title + ' · ' + (rec.project_name || rec.project_code || '')));
    box.appendChild(el('div', 'ag-i-code', T.project_code + ': ' + (rec.project_code || '')));
    var sel = el('select', 'ag-i-finding');
    sel.appendChild(el('option', null, T.choose)).value = '';
    C.findings.forEach(function (f) { var o = el('option', null, f[1]); o.value = f[0]; sel.appendChild(o); });
    box.appendChild(field(T.finding, sel));
    var note = el('textarea', 'ag-i-note'); note.maxLength = C.max_note; note.rows = 3;
    box.appendChild(field(T.note, note));
    var area = el('input', 'ag-i-area'); area.type = 'number'; area.min = '0'; area.step = '0.1';
    box.appendChild(field(T.area_mu, area));
    var photoIn = el('input', 'ag-i-photo'); photoIn.type = 'file'; photoIn.accept = 'image/*';
    photoIn.setAttribute('capture', 'environment'); photoIn.multiple = true;
    var thumbs = el('div', 'ag-i-thumbs'), photoMsg = el('div', 'ag-hint');
    box.appendChild(field(T.photos + ' (≤ ' + C.max_photos + ')', photoIn));
    box.appendChild(thumbs); box.appendChild(photoMsg);
    var pos = el('div', 'ag-i-pos', T.locating);
    box.appendChild(pos);
    var msg = el('div', 'ag-loc-err');
    box.appendChild(msg);
    function showPos(p2, err) {
      rec.position = p2;
      pos.textContent = p2 ? T.position + ': ' + A.fmt(p2.lat, 6) + ', ' + A.fmt(p2.lon, 6) + ' ±' + A.fmt(p2.accuracy_m, 0) +
        ' m · ' + p2.time.slice(0, 19).replace('T', ' ') : T.no_position + (err ? ': ' + err : '');
    }
    locate(showPos);
    photoIn.addEventListener('change', function () {
      var files = Array.prototype.slice.call(photoIn.files || []);
      var room = C.max_photos - rec.photos.length;
      if (files.length > room) photoMsg.textContent = T.too_many_photos;
      Promise.all(files.slice(0, Math.max(room, 0)).map(function (f) { return downscale(f, C.max_px, 0.85); })).then(function (ps) {
        ps.forEach(function (ph) {
          rec.photos.push(ph);
          var im = el('img', 'ag-i-thumb'); im.src = ph.data; im.alt = ph.name; thumbs.appendChild(im);
        });
        box.setAttribute('data-photos', String(rec.photos.length));
      }).catch(function (e) { photoMsg.textContent = T.photo_failed + ': ' + e.message; });
      photoIn.value = '';
    });
    var row = el('div', 'ag-row');
    var save = el('button', 'ag-i-save', T.save); save.type = 'button';
    var cancel = el('button', 'ag-i-cancel', T.cancel); cancel.type = 'button';
    save.addEventListener('click', function () {
      if (!sel.value) { msg.textContent = T.need_finding; return; }
      rec.finding = sel.value;
      rec.note = note.value.slice(0, C.max_note);
      var a = parseFloat(area.value);
      rec.area_mu = isFinite(a) && a >= 0 ? a : null;
      rec.created_at = new Date().toISOString();
      rec.map_title = st.cfg.title || '';
      save.disabled = true;
      put(rec).then(function () {
        I.records.push(rec);
        close();
        showList();
      }).catch(function (e) { save.disabled = false; msg.textContent = T.save_failed + ': ' + (e && e.message || e); });
    });
    cancel.addEventListener('click', close);
    row.appendChild(save); row.appendChild(cancel);
    box.appendChild(row);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    function close() { box.remove(); }
    var old = st.map.getContainer().querySelector('.ag-insp');
    if (old) old.remove();
    st.map.getContainer().appendChild(box);
    return box;
  }
  I.openForm = openForm;

  // ---------------------------------------------------------- list, export
  function findingLabel(code) {
    var f = I.state.cfg.inspect.findings.filter(function (x) { return x[0] === code; })[0];
    return f ? f[1] : String(code);
  }
  function showList() {
    var st = I.state, T = st.cfg.inspect.labels;
    var out = [el('div', 'ag-panel-title', T.list + ' (' + I.records.length + ')')];
    var ul = el('ul', 'ag-i-list');
    I.records.slice().sort(byTime).reverse().forEach(function (r) {
      ul.appendChild(el('li', 'ag-i-item', (r.project_code || '') + ' · ' + findingLabel(r.finding) + ' · ' +
        r.photos.length + ' ' + T.photo_unit + ' · ' + String(r.created_at || '').slice(0, 16).replace('T', ' ')));
    });
    if (!I.records.length) ul.appendChild(el('li', 'ag-hint', T.none));
    out.push(ul);
    var exp = el('button', 'ag-i-export', T['export'] + ' (' + I.records.length + ')'); exp.type = 'button';
    exp.disabled = !I.records.length;
    exp.addEventListener('click', exportAll);
    var row = el('div', 'ag-row'); row.appendChild(exp);
    out.push(row);
    st.panel.show(out);
  }
  I.showList = showList;
  function toGeoJSON() {
    return {type: 'FeatureCollection', agrigis: 'inspections', version: 1, exported_at: new Date().toISOString(),
      features: I.records.slice().sort(byTime).map(function (r) {
        var pos = r.position;
        return {type: 'Feature', id: r.id,
          geometry: pos ? {type: 'Point', coordinates: [Math.round(pos.lon * 1e7) / 1e7, Math.round(pos.lat * 1e7) / 1e7]} : null,
          properties: {id: r.id, project_code: r.project_code, version: r.version, finding: r.finding, note: r.note,
            area_mu: r.area_mu, accuracy_m: pos ? pos.accuracy_m : null, position_time: pos ? pos.time : null,
            created_at: r.created_at, map_title: r.map_title,
            photos: r.photos.map(function (ph) { return {name: ph.name, width: ph.width, height: ph.height, data: ph.data}; })}};
      })};
  }
  I.toGeoJSON = toGeoJSON;
  function exportAll() {
    var fc = toGeoJSON();
    var blob = new Blob([JSON.stringify(fc)], {type: 'application/geo+json'});
    var a = document.createElement('a');
    a.download = 'agrigis-inspections-' + new Date().toISOString().slice(0, 10) + '.geojson';
    a.href = URL.createObjectURL(blob);
    document.body.appendChild(a); a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    return fc;
  }
  I.exportAll = exportAll;

  // -------------------------------------------------------- wiring (agrigis.js)
  I.button = function (p) {
    var b = el('button', 'ag-i-open', I.state.cfg.inspect.labels.title);
    b.type = 'button';
    b.addEventListener('click', function (e) { e.stopPropagation(); openForm(p); });
    return b;
  };
  I.toolbar = function (bar, button) {
    button(bar, 'inspections', 'inspect', I.state ? I.state.cfg.inspect.labels.list : '', showList);
  };
  I.start = function (state) {
    I.state = state;
    I.ready = openDb();
    I.loaded = I.ready.then(loadAll).then(function (rs) { I.records = rs.sort(byTime); return rs; })
      .catch(function () { I.records = []; return []; });
    return I.loaded;
  };
})();
