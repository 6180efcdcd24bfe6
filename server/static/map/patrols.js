/* Patrols on the map: tracks by age with the latest valid patrol of each reach
 * highlighted and invalid ones dashed grey; the 巡河覆盖 mode (each reach split into
 * patrolled and not patrolled stretches, from /patrols/coverage); and the chiefs of a
 * reach in its popup (/patrols/chiefs): their waters, last patrols and duty.
 * Ages, colours, the default period and the URLs come from /map/config.json. */
(function () {
  "use strict";
  var api = window.hehuMap;
  if (!api) { return; }
  var DAY = 86400000;
  var latest = {};      // patrol code -> true: the latest valid patrol of some reach
  var coverage = null;  // reach code -> coverage properties, while the mode is on

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function codes(text) { return String(text || "").split(";").map(function (c) { return c.trim(); }).filter(Boolean); }
  function P() { return (api.config && api.config.patrols) || null; }
  function T() { return api.config.strings; }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) { throw new Error((body && body.description) || ("HTTP " + r.status)); }
        return body;
      });
    });
  }
  // The China Standard Time date of a UTC instant (patrol dates are local dates).
  function localDate(iso) {
    var t = new Date(iso).getTime();
    return isNaN(t) ? null : new Date(t + 8 * 3600000).toISOString().slice(0, 10);
  }
  function ageOf(props) {
    var p = P(), d = localDate(props.started_at);
    var ages = p.ages;
    if (!d || !p.as_of) { return ages[ages.length - 1]; }
    var days = (Date.parse(p.as_of) - Date.parse(d)) / DAY;
    for (var i = 0; i < ages.length; i++) {
      if (ages[i].days == null || days < ages[i].days) { return ages[i]; }
    }
    return ages[ages.length - 1];
  }

  // -- tracks ------------------------------------------------------------------------------

  api.addLayerHook("patrols", {
    // Newest first from the server: the first valid track seen for a reach is its
    // latest. Drawn oldest first, the highlighted ones last, so they lie on top.
    beforeDraw: function (fc) {
      latest = {};
      var seen = {};
      fc.features.forEach(function (f) {
        var p = f.properties || {};
        if (p.valid !== true) { return; }
        codes(p.reaches).forEach(function (c) {
          if (!seen[c]) { seen[c] = true; latest[p.code] = true; }
        });
      });
      fc.features.sort(function (a, b) {
        var la = latest[a.properties.code] ? 1 : 0, lb = latest[b.properties.code] ? 1 : 0;
        if (la !== lb) { return la - lb; }
        return String(a.properties.started_at) < String(b.properties.started_at) ? -1 : 1;
      });
    },
    style: function (props, st) {
      var p = P();
      if (!p) { return st; }
      var age = ageOf(props);
      st.opacity = age.opacity;
      st.weight = age.weight;
      st.className = "hehu-patrol hehu-patrol-" + age.id + (props.valid === true ? "" : " hehu-patrol-invalid");
      if (props.valid !== true) {
        st.color = p.invalid_color;
        st.dashArray = p.invalid_dash;
      } else if (latest[props.code]) {
        st.color = p.latest.color;
        st.weight = p.latest.weight;
        st.opacity = 1;
        st.className += " hehu-patrol-latest";
      } else {
        st.color = p.valid_color;
      }
      return st;
    },
    legend: function (cfg, swatch) {
      var p = P(), t = T();
      if (!p) { return ""; }
      var line = function (color, weight, opacity, dash, label, cls) {
        return '<div class="legend-item ' + (cls || "") + '"><span class="swatch line" style="border-top:' +
          Math.max(2, Math.min(weight, 5)) + "px " + (dash ? "dashed " : "solid ") + color + ";opacity:" + opacity + '"></span>' +
          esc(label) + "</div>";
      };
      var html = ['<div class="legend-name">' + esc(cfg.title) + '</div><div class="legend-note">' +
        esc(fmt(t.patrol_as_of, { date: p.as_of || "—" })) + "</div>"];
      p.ages.forEach(function (a) {
        html.push(line(p.valid_color, a.weight, a.opacity, false, t["patrol_" + a.id], "patrol-age-" + a.id));
      });
      html.push(line(p.latest.color, p.latest.weight, 1, false, t.patrol_latest, "patrol-latest"));
      html.push(line(p.invalid_color, 2, 1, true, t.patrol_invalid, "patrol-invalid"));
      return html.join("");
    },
  });

  // -- popups: a patrol's age; a reach's coverage and chiefs ---------------------------------

  function chiefHtml(c) {
    var t = T(), names = reachNames();
    var reaches = c.reaches.map(function (code) {
      return '<span class="chief-reach" data-code="' + esc(code) + '">' + esc(names[code] ? names[code] + "（" + code + "）" : code) + "</span>";
    }).join("、");
    var duty = c.duty ? '<div class="chief-duty ' + (c.duty.met ? "met" : "not-met") + '">' +
      esc(fmt(t.chief_duty, { from: c.duty.from, to: c.duty.to, required: c.duty.required, done: c.duty.done,
        met: c.duty.met ? t.chief_met : t.chief_not_met })) + "</div>" : "";
    var patrols = c.patrols.length ? "<ul class=\"chief-patrols\">" + c.patrols.map(function (p) {
      var km = p.length_m != null ? " · " + (p.length_m / 1000).toFixed(1) + " km" : "";
      return '<li class="' + (p.valid ? "valid" : "invalid") + '">' + esc(localDate(p.started_at) || "—") + esc(km) + " · " +
        esc(p.valid ? t.chief_valid : t.chief_invalid) + (p.valid || !p.invalid_reason ? "" : "：" + esc(p.invalid_reason)) + "</li>";
    }).join("") + "</ul>" : '<div class="chief-empty">' + esc(t.chief_no_patrol) + "</div>";
    return '<div class="chief" data-chief="' + esc(c.name) + '"><div class="chief-name"><b>' + esc(c.name) + "</b> " +
      esc([c.level, c.post, c.phone].filter(Boolean).join(" · ")) + "</div>" +
      '<div class="chief-reaches">' + esc(t.chief_reaches) + "：" + reaches + "</div>" + duty +
      '<div class="chief-sub">' + esc(t.chief_patrols) + "</div>" + patrols + "</div>";
  }
  function reachNames() {
    var out = {};
    (P() ? P().reach_layers : []).forEach(function (id) {
      var e = api.entries[id];
      ((e && e.fc && e.fc.features) || []).forEach(function (f) { out[f.properties.code] = f.properties.name; });
    });
    (allReaches || []).forEach(function (f) { out[f.properties.code] = f.properties.name; });
    return out;
  }
  function period() {
    var p = P(), from = document.getElementById("coverage-from"), to = document.getElementById("coverage-to");
    return { from: (from && from.value) || p.from, to: (to && to.value) || p.to };
  }
  function showChiefs(code, el) {
    var t = T(), per = period();
    var box = document.createElement("div");
    box.className = "hehu-chiefs";
    box.innerHTML = '<div class="chief-title">' + esc(t.chiefs) + '</div><div class="chief-loading">' + esc(t.chief_loading) + "</div>";
    el.appendChild(box);
    var url = api.config.urls.chiefs + "?reach=" + encodeURIComponent(code) + "&lang=" + api.config.lang +
      (per.from && per.to ? "&from=" + per.from + "&to=" + per.to : "");
    getJSON(url).then(function (body) {
      box.dataset.loaded = "1";
      box.innerHTML = '<div class="chief-title">' + esc(t.chiefs) + "</div>" +
        (body.chiefs.length ? body.chiefs.map(chiefHtml).join("") : '<div class="chief-empty">' + esc(t.chief_none) + "</div>");
    }).catch(function (err) {
      box.dataset.loaded = "error";
      box.innerHTML = '<div class="error">' + esc(err.message) + "</div>";
    });
  }
  function pct(share) { return (Math.round(share * 1000) / 10).toFixed(1) + "%"; }
  api.addPopupExtension(function (layerId, feature, el) {
    var p = P(), props = feature.properties || {};
    if (!p) { return; }
    if (layerId === "patrols") {
      var note = document.createElement("div");
      note.className = "hehu-patrol-note";
      note.textContent = T().patrol_age + "：" + T()["patrol_" + ageOf(props).id] +
        (latest[props.code] ? " · " + T().patrol_latest_note : "");
      el.appendChild(note);
      return;
    }
    if (p.reach_layers.indexOf(layerId) < 0 || !props.code) { return; }
    if (coverage && coverage[props.code]) {
      var c = coverage[props.code], t = T();
      var cov = document.createElement("table");
      cov.className = "hehu-coverage-rows";
      cov.innerHTML = "<tr><th>" + esc(t.coverage_share) + '</th><td class="coverage-share">' + pct(c.share) + "</td></tr><tr><th>" +
        esc(t.coverage_covered_m) + "</th><td>" + Math.round(c.covered_m) + " / " + Math.round(c.length_m) + " m</td></tr>";
      el.appendChild(cov);
    }
    showChiefs(props.code, el);
  });

  // -- 巡河覆盖 mode ----------------------------------------------------------------------------

  var allReaches = null;   // every reach (code, name, geometry), read once for the mode
  var group = null;
  var lastFc = null;
  function drawCoverage() {
    var p = P(), cov = p.coverage;
    group.clearLayers();
    if (!lastFc) { return; }
    var rivers = (api.config.layers || []).filter(function (c) { return c.id === "rivers"; })[0];
    var popup = function (f) { return function () { return api.popupContent(rivers, f); }; };
    var byCode = {};
    (allReaches || []).forEach(function (f) { byCode[f.properties.code] = f; });
    lastFc.features.forEach(function (f) {
      var reach = byCode[f.id] || byCode[f.properties.code];
      if (!reach) { return; }
      var feature = { type: "Feature", id: reach.id, properties: reach.properties, geometry: reach.geometry };
      L.geoJSON(reach, {
        coordsToLatLng: api.coordsToLatLng,
        style: { color: cov.covered.color, weight: cov.covered.weight, opacity: 0.95, pane: "hehu-coverage", className: "hehu-covered" },
      }).bindPopup(popup(feature), api.popupOptions).addTo(group);
      if (f.geometry) {
        L.geoJSON(f.geometry, {
          coordsToLatLng: api.coordsToLatLng,
          style: { color: "#ffffff", weight: cov.uncovered.weight + 1, opacity: 1, pane: "hehu-coverage", interactive: false },
        }).addTo(group);
        L.geoJSON(f.geometry, {
          coordsToLatLng: api.coordsToLatLng,
          style: { color: cov.uncovered.color, weight: cov.uncovered.weight, dashArray: cov.uncovered.dash, opacity: 1,
            pane: "hehu-coverage", className: "hehu-uncovered" },
        }).bindPopup(popup(feature), api.popupOptions).addTo(group);
      }
    });
  }
  function summarize(fc) {
    var t = T(), length = 0, covered = 0;
    fc.features.forEach(function (f) { length += f.properties.length_m; covered += f.properties.covered_m; });
    var el = document.getElementById("coverage-summary");
    el.textContent = fmt(t.coverage_summary, { n: fc.features.length, length: (length / 1000).toFixed(1),
      share: length ? pct(covered / length) : "—" });
    el.dataset.covered = String(covered);
    el.dataset.length = String(length);
  }
  function loadCoverage() {
    var per = period(), river = document.getElementById("coverage-river").value.trim();
    var err = document.getElementById("coverage-error");
    err.hidden = true;
    var url = api.config.urls.coverage + "?from=" + encodeURIComponent(per.from) + "&to=" + encodeURIComponent(per.to) +
      (river ? "&river=" + encodeURIComponent(river) : "") + "&lang=" + api.config.lang;
    var reachesUrl = api.config.urls.items.replace("{id}", "rivers") + "?limit=" + api.config.max_features + "&f=json";
    api.setPending(1);
    var container = api.map.getContainer();
    container.dataset.coverage = "loading";
    return Promise.all([getJSON(url), allReaches ? Promise.resolve(null) : getJSON(reachesUrl)]).then(function (answers) {
      if (answers[1]) { allReaches = answers[1].features; }
      lastFc = answers[0];
      coverage = {};
      lastFc.features.forEach(function (f) { coverage[f.properties.code] = f.properties; });
      drawCoverage();
      summarize(lastFc);
      container.dataset.coverage = "loaded";
      var b = group.getBounds();
      if (river && b.isValid()) { api.map.fitBounds(b, { padding: [40, 40] }); }
    }).catch(function (e) {
      err.textContent = e.message;
      err.hidden = false;
      container.dataset.coverage = "error";
    }).then(function () { api.setPending(-1); });
  }
  function setMode(on) {
    var panel = document.getElementById("coverage-panel");
    document.body.classList.toggle("coverage-mode", on);
    panel.hidden = !on;
    document.getElementById("coverage-toggle").setAttribute("aria-pressed", on ? "true" : "false");
    document.getElementById("menu-coverage").setAttribute("aria-pressed", on ? "true" : "false");
    if (on) {
      group.addTo(api.map);
      return loadCoverage();
    }
    coverage = null;
    lastFc = null;
    group.clearLayers();
    api.map.removeLayer(group);
    delete api.map.getContainer().dataset.coverage;
    return Promise.resolve();
  }

  api.ready.then(function () {
    var p = P();
    var panel = document.getElementById("coverage-panel");
    if (!p || !panel) { return; }
    var t = T();
    var pane = api.map.createPane("hehu-coverage");
    pane.style.zIndex = "565";
    group = L.featureGroup();
    document.getElementById("coverage-from").value = p.from || "";
    document.getElementById("coverage-to").value = p.to || "";
    var cov = p.coverage;
    document.getElementById("coverage-legend").innerHTML =
      '<div class="legend-item"><span class="swatch line" style="border-top:4px solid ' + cov.covered.color + '"></span>' +
      esc(fmt(t.coverage_covered, { buffer: p.buffer_m })) + "</div>" +
      '<div class="legend-item"><span class="swatch line" style="border-top:4px dashed ' + cov.uncovered.color + '"></span>' +
      esc(t.coverage_uncovered) + "</div>";
    // The panel is a control of the top-left column, like the query panel.
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      L.DomEvent.disableClickPropagation(panel);
      L.DomEvent.disableScrollPropagation(panel);
      return panel;
    };
    ctl.addTo(api.map);
    panel.hidden = true;
    document.getElementById("coverage-toggle").addEventListener("click", function () { setMode(panel.hidden); });
    document.getElementById("menu-coverage").addEventListener("click", function () { api.closeMenu(); setMode(panel.hidden); });
    document.getElementById("coverage-close").addEventListener("click", function () { setMode(false); });
    document.getElementById("coverage-form").addEventListener("submit", function (ev) { ev.preventDefault(); loadCoverage(); });
    api.map.on("baselayerchange", function () { setTimeout(drawCoverage, 0); });
    api.coverage = { show: function () { return setMode(true); }, hide: function () { return setMode(false); },
      data: function () { return lastFc; } };
  });
})();
