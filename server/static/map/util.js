/* Small helpers every module of the map uses: templates, escaping, debouncing, JSON. */

export function fmt(template, values) {
  return String(template).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
}

export function esc(value) {
  return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}

export function debounce(fn, ms) {
  var t = null;
  return function () {
    var args = arguments, self = this;
    clearTimeout(t);
    t = setTimeout(function () { fn.apply(self, args); }, ms);
  };
}

// GET a JSON (or GeoJSON) body; an error answer throws the server's description.
export function fetchJSON(url) {
  return fetch(url, { headers: { Accept: "application/geo+json, application/json" } }).then(function (r) {
    return r.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      if (!r.ok) {
        var msg = (body && (body.description || body.message)) || ("HTTP " + r.status);
        var err = new Error(msg);
        err.status = r.status;
        throw err;
      }
      return body;
    });
  });
}

export function fidOf(feature) {
  if (feature.properties && feature.properties.fid != null) { return feature.properties.fid; }
  return feature.id;
}
