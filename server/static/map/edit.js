/* hehu map editing: add a violation by clicking the map, move a point, advance a status,
 * and read a feature's history, from the map page.
 *
 * Uses the hook the map exposes (window.hehuMap: map, config, layers, reload(id),
 * addPopupExtension(fn), ready) and the editing API (server/edit.py). Writes are
 * authenticated by the session cookie, so each carries the session's CSRF token in
 * X-CSRF-Token, and each change to an existing feature sends the ETag it read in
 * If-Match: a feature someone else changed meanwhile is refused (412), not overwritten.
 *
 * Everything else comes from the page (server/map.py edit_config, a JSON element made
 * with url_for): the URLs (so hehu may be mounted below a prefix), the strings in the
 * page's language (geo/messages/edit_map.yaml), the layers with a lifecycle
 * (geo.lifecycle) and the add form's fields; field titles, types and status labels are
 * the catalog's, from /map/config.json.
 */
(function () {
  "use strict";

  var api = window.hehuMap;
  if (!api || !api.ready) { return; }

  var holder = document.getElementById("hehu-edit-config");
  if (!holder) { return; }
  var CFG = JSON.parse(holder.textContent);
  var RANK = { viewer: 0, field: 1, editor: 2, admin: 3 };
  var me = { user: null, csrf_token: null };
  var zh = CFG.lang !== "en";
  function t(key) { return CFG.strings[key] || key; }

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function can(role) { return !!(me.user && RANK[me.user.role] >= RANK[role]); }
  function fidOf(feature) {
    if (feature.properties && feature.properties.fid != null) { return feature.properties.fid; }
    return feature.id;
  }
  function itemUrl(layerId, fid) {
    return CFG.urls.item.replace("{id}", encodeURIComponent(layerId)).replace("{fid}", encodeURIComponent(fid));
  }
  // Clicks arrive in the basemap's coordinates (GCJ-02 under Amap); the API takes WGS84.
  var gcjBasemap = false;
  function trackBasemap() {
    api.map.eachLayer(function (layer) {
      if (layer.hehuBasemap) { gcjBasemap = layer.hehuBasemap.crs === "gcj02"; }
    });
    api.map.on("baselayerchange", function (ev) {
      gcjBasemap = ((ev.layer && ev.layer.hehuBasemap) || {}).crs === "gcj02";
    });
  }
  function toLonLat(latlng) {
    if (gcjBasemap && window.hehuGcj02) { return window.hehuGcj02.toWgs84(latlng.lng, latlng.lat); }
    return [latlng.lng, latlng.lat];
  }
  // The open popup, re-laid out and panned into view when its content grows (history,
  // a transition form): Leaflet does that only when a popup opens, and update() would
  // rebuild the content from the layer's function, losing the form being filled in.
  var openPopup = null;
  function refit() {
    var p = openPopup;
    if (p && p.isOpen() && p._updateLayout && p._adjustPan) {
      p._updateLayout();
      p._updatePosition();
      p._adjustPan();
    }
  }
  function today() { return new Date().toISOString().slice(0, 10); }

  // A line on the map saying what a click will do now, or what was just done.
  var bannerTimer = null;
  function banner(text, seconds) {
    var el = document.getElementById("edit-banner");
    if (!el) {
      el = document.createElement("div");
      el.id = "edit-banner";
      el.className = "hehu-box";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    clearTimeout(bannerTimer);
    el.textContent = text || "";
    el.hidden = !text;
    if (text && seconds) { bannerTimer = setTimeout(function () { el.hidden = true; }, seconds * 1000); }
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function request(method, url, body, etag) {
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (me.csrf_token) { headers["X-CSRF-Token"] = me.csrf_token; }
    if (etag) { headers["If-Match"] = etag; }
    return fetch(url, {
      method: method, credentials: "same-origin", headers: headers,
      body: body == null ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && data.description) || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        }
        return { data: data, etag: r.headers.get("ETag") };
      });
    });
  }

  // One labelled input; options are [value, label] pairs for a choice.
  function field(name, title, type, value, options) {
    var id = "hehu-edit-" + name;
    var input;
    if (options) {
      input = '<select id="' + id + '" name="' + name + '">' + options.map(function (o) {
        return '<option value="' + esc(o[0]) + '">' + esc(o[1]) + "</option>";
      }).join("") + "</select>";
    } else {
      input = '<input id="' + id + '" name="' + name + '" type="' + type + '" value="' + esc(value || "") + '">';
    }
    return '<label for="' + id + '">' + esc(title) + "</label>" + input;
  }

  function formValues(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.value !== "") { out[el.name] = el.value; }
    });
    return out;
  }

  // -- add a violation ------------------------------------------------------------------------

  // The next click on the map, wherever it lands: caught in the capture phase so that a
  // polygon or marker under the pointer does not open its own popup instead.
  var picking = null;
  function pickPoint(done) {
    var c = api.map.getContainer();
    if (picking) { c.removeEventListener("click", picking, true); }
    c.style.cursor = "crosshair";
    picking = function (ev) {
      if (ev.target.closest && ev.target.closest(".leaflet-control, .leaflet-popup")) { return; }
      if (api.map.dragging && api.map.dragging.moved()) { return; }
      ev.stopPropagation();
      ev.preventDefault();
      c.removeEventListener("click", picking, true);
      picking = null;
      c.style.cursor = "";
      banner("");
      done(api.map.mouseEventToLatLng(ev));
    };
    c.addEventListener("click", picking, true);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || !picking) { return; }
    var c = api.map.getContainer();
    c.removeEventListener("click", picking, true);
    picking = null;
    c.style.cursor = "";
    banner("");
    Array.prototype.forEach.call(document.querySelectorAll(".hehu-edit-add.active"), function (b) { b.classList.remove("active"); });
  });

  function startAdd(button) {
    button.classList.add("active");
    banner(t("add_banner"));
    pickPoint(function (latlng) {
      button.classList.remove("active");
      openAddForm(latlng);
    });
  }

  // The add form's fields, titles and choices from the catalog (server/map.py ADD_FIELDS);
  // the river is a choice of the nearest waters, filled in below.
  function openAddForm(latlng) {
    var spec = CFG.add[0];
    var el = document.createElement("form");
    el.className = "hehu-edit-form";
    el.innerHTML = "<h3>" + esc(t("add")) + "</h3>" +
      spec.fields.map(function (f) {
        if (f.name === "river") { return field(f.name, f.title, "text", "", [["", t("no_river")]]); }
        var type = f.type === "date" ? "date" : "text";
        return field(f.name, f.title, type, type === "date" ? today() : "", f.options);
      }).join("") +
      '<p class="hehu-edit-error" role="alert"></p>' +
      '<button type="submit">' + esc(t("save")) + '</button> <button type="button" class="cancel">' +
      esc(t("cancel")) + "</button>";
    // Padding that keeps the form's heading clear of the toolbar and of this control.
    var popup = L.popup({ maxWidth: 320, autoPanPaddingTopLeft: [60, 125], autoPanPaddingBottomRight: [300, 30] })
      .setLatLng(latlng).setContent(el).openOn(api.map);
    // The code is generated when left empty; the town is the one the point lies in; the
    // river is one of the nearest rivers and lakes (the server checks both again).
    var codeInput = el.querySelector("[name=code]");
    codeInput.placeholder = t("code_auto");
    var townInput = el.querySelector("[name=town]");
    townInput.readOnly = true;
    var riverSelect = el.querySelector("[name=river]");
    var at = toLonLat(latlng);
    var near = api.config.urls.nearest + "?lon=" + at[0].toFixed(6) + "&lat=" + at[1].toFixed(6);
    fetch(near + "&layer=towns&k=1", { headers: { Accept: "application/json" } }).then(function (r) { return r.json(); })
      .then(function (fc) {
        var f = fc.features && fc.features[0];
        if (f && f.properties.distance_m === 0) { townInput.value = f.properties.name; }
      }).catch(function () {});
    Promise.all(["rivers", "lakes"].map(function (layer) {
      return fetch(near + "&layer=" + layer + "&k=" + (layer === "rivers" ? 8 : 1) + "&max_distance=3000",
        { headers: { Accept: "application/json" } }).then(function (r) { return r.ok ? r.json() : { features: [] }; });
    })).then(function (answers) {
      var waters = [];
      answers.forEach(function (fc) { (fc.features || []).forEach(function (f) { waters.push(f.properties); }); });
      waters.sort(function (a, b) { return a.distance_m - b.distance_m; });
      var seen = {};
      waters.forEach(function (p, i) {
        if (!p.name || seen[p.name]) { return; }
        seen[p.name] = true;
        var opt = document.createElement("option");
        opt.value = p.name;
        opt.textContent = p.name + "（" + Math.round(p.distance_m) + " m）";
        riverSelect.insertBefore(opt, riverSelect.lastChild);
        if (i === 0) { opt.selected = true; }
      });
      refit();
    }).catch(function () {});
    el.querySelector(".cancel").addEventListener("click", function () { api.map.closePopup(popup); });
    el.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var lonlat = toLonLat(latlng);
      var body = {
        type: "Feature",
        properties: formValues(el),
        geometry: { type: "Point", coordinates: [lonlat[0], lonlat[1]] },
      };
      request("POST", CFG.urls.items.replace("{id}", encodeURIComponent(spec.layer)), body).then(function (res) {
        api.map.closePopup(popup);
        banner(fill(t("saved_code"), { code: (res.data && res.data.properties && res.data.properties.code) || "" }), 4);
        api.reload(spec.layer);
      }).catch(function (err) {
        el.querySelector(".hehu-edit-error").textContent = err.message;
        refit();
      });
    });
  }

  // -- popup: history, status, move -------------------------------------------------------------

  function layerConfig(layerId) {
    return (api.config.layers || []).filter(function (c) { return c.id === layerId; })[0] || {};
  }
  // A field's title in the page's language (备注, not "note"), as the popup shows it.
  function fieldTitle(layerId, name) {
    var f = (layerConfig(layerId).fields || {})[name];
    return (f && f.title) || name;
  }
  function fieldType(layerId, name) {
    var f = (layerConfig(layerId).fields || {})[name];
    return (f && f.type) || "str";
  }
  // An enum value as the page shows it (the English label on the English page).
  function valueLabel(layerId, name, value) {
    if (value == null) { return "—"; }
    var f = (layerConfig(layerId).fields || {})[name];
    return (f && f.enum_labels && f.enum_labels[value]) || value;
  }
  // History times are stored in UTC; people read them in their own time zone.
  function localTime(at) {
    var d = new Date(at);
    if (!at || isNaN(d.getTime())) { return (at || "").slice(0, 16).replace("T", " "); }
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function describeChange(layerId, entry) {
    var op = t(entry.op + "_op");
    if (entry.op !== "update") { entry = { at: entry.at, user: entry.user, changes: {} }; }
    var parts = Object.keys(entry.changes || {}).filter(function (k) { return k !== "geometry"; }).map(function (k) {
      var c = entry.changes[k];
      return esc(fieldTitle(layerId, k)) + t("colon") + esc(valueLabel(layerId, k, c[0])) + " → " +
        esc(valueLabel(layerId, k, c[1]));
    });
    if (entry.changes && entry.changes.geometry && entry.op === "update") { parts.push(esc(t("move"))); }
    return "<li><span class=\"when\">" + esc(localTime(entry.at)) + "</span> " +
      esc(entry.user) + " " + esc(op) + (parts.length ? t("colon") + parts.join(t("semicolon")) : "") + "</li>";
  }

  function showHistory(layerId, fid, box) {
    request("GET", itemUrl(layerId, fid) + "/history").then(function (res) {
      var all = res.data.history || [];
      var items = all.slice(-8).reverse();
      box.innerHTML = (items.length ?
        "<ul>" + items.map(function (e) { return describeChange(layerId, e); }).join("") + "</ul>" : esc(t("none"))) +
        '<a class="all" target="_blank" href="' + esc(itemUrl(layerId, fid) + "/history?f=html&lang=" + (zh ? "zh" : "en")) +
        '">' + esc(fill(t("all_history"), { n: all.length })) + "</a>";
      refit();
    }).catch(function (err) { box.textContent = err.message; refit(); });
  }

  function advanceForm(layerId, fid, move, etag, box) {
    box.innerHTML = "";
    var form = document.createElement("form");
    form.className = "hehu-edit-form";
    // A date the step records happens today (closed on, remediated on); a deadline is
    // for whoever assigns it to choose.
    form.innerHTML = move.requires.map(function (name) {
      var type = fieldType(layerId, name) === "date" ? "date" : "text";
      return field(name, fieldTitle(layerId, name), type, type === "date" && name !== "deadline" ? today() : "");
    }).join("") + '<p class="hehu-edit-error" role="alert"></p><button type="submit">' +
      esc(zh ? move.label_zh || move.to : move.label_en || move.to) + " → " + esc(valueLabel(layerId, "status", move.to)) + "</button>";
    box.appendChild(form);
    refit();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = formValues(form);
      body.to = move.to;
      request("POST", itemUrl(layerId, fid) + "/transition", body, etag).then(function () {
        api.map.closePopup();
        api.reload(layerId);
      }).catch(function (err) {
        form.querySelector(".hehu-edit-error").textContent = err.status === 412 ? t("conflict") : err.message;
        refit();
        if (err.status === 412) { api.reload(layerId); }
      });
    });
  }

  function showMoves(layerId, fid, box) {
    request("GET", itemUrl(layerId, fid) + "/transition").then(function (res) {
      var moves = res.data.allowed || [];
      if (!moves.length) { return; }
      box.innerHTML = "<b>" + esc(t("advance")) + "</b> ";
      moves.forEach(function (move) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = zh ? (move.label_zh || move.to) : (move.label_en || move.to);
        b.title = move.to;
        b.addEventListener("click", function () {
          if (!move.requires.length) {
            request("POST", itemUrl(layerId, fid) + "/transition", { to: move.to }, res.etag).then(function () {
              api.map.closePopup();
              api.reload(layerId);
            }).catch(function (err) { box.textContent = err.status === 412 ? t("conflict") : err.message; });
          } else {
            advanceForm(layerId, fid, move, res.etag, box);
          }
        });
        box.appendChild(b);
      });
      refit();
    }).catch(function () { /* no lifecycle for this feature */ });
  }

  function startMove(layerId, fid, box) {
    request("GET", itemUrl(layerId, fid) + "/history").then(function (res) {
      api.map.closePopup();
      banner(t("move_banner"));
      pickPoint(function (latlng) {
        var lonlat = toLonLat(latlng);
        var body = { geometry: { type: "Point", coordinates: [lonlat[0], lonlat[1]] } };
        request("PATCH", itemUrl(layerId, fid), body, res.etag).then(function () {
          banner(t("moved"), 3);
          api.reload(layerId);
        }).catch(function (err) {
          window.alert(err.status === 412 ? t("conflict") : err.message);
          api.reload(layerId);
        });
      });
    }).catch(function (err) { box.textContent = err.message; });
  }

  function popupExtension(layerId, feature, el) {
    var fid = fidOf(feature);
    if (fid == null) { return; }
    var section = document.createElement("div");
    section.className = "hehu-edit";
    // Leaflet 1.9 tells a click inside a popup from a map click by walking up from the
    // target; a button replaced by its form is no longer inside anything, so the map
    // would take the click as its own and close the popup. Clicks stop here instead.
    section.addEventListener("click", function (ev) { ev.stopPropagation(); });
    var actions = document.createElement("div");
    actions.className = "hehu-edit-actions";
    var moves = document.createElement("div");
    moves.className = "hehu-edit-moves";
    var history = document.createElement("div");
    history.className = "hehu-edit-history";
    // History is a read, open to whoever may see the map; the edit buttons need a role.
    if (CFG.lifecycle_layers.indexOf(layerId) >= 0 && can("field")) { showMoves(layerId, fid, moves); }
    if (can("editor") && feature.geometry && feature.geometry.type === "Point") {
      var mv = document.createElement("button");
      mv.type = "button";
      mv.textContent = t("move");
      mv.title = t("move_hint");
      mv.addEventListener("click", function () { startMove(layerId, fid, actions); });
      actions.appendChild(mv);
    }
    var hb = document.createElement("button");
    hb.type = "button";
    hb.textContent = t("history");
    hb.addEventListener("click", function () { showHistory(layerId, fid, history); });
    actions.appendChild(hb);
    section.appendChild(moves);
    section.appendChild(actions);
    section.appendChild(history);
    if (window.hehuAttachments) { window.hehuAttachments.popup(layerId, fid, section, { role: me.user && me.user.role, csrf: me.csrf_token, zh: zh, refit: refit }); }
    el.appendChild(section);
  }

  // -- start --------------------------------------------------------------------------------------

  function addControls() {
    var Ctl = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "leaflet-bar hehu-edit-control");
        L.DomEvent.disableClickPropagation(box);
        if (!me.user) {
          box.innerHTML = '<a href="' + esc(CFG.urls.login) + '" class="hehu-edit-login">' + esc(t("login")) + "</a>";
          return box;
        }
        var who = L.DomUtil.create("span", "hehu-edit-user", box);
        who.textContent = fill(t("user_role"), { name: me.user.name, role: t("role_" + me.user.role) });
        var out = L.DomUtil.create("a", "hehu-edit-logout", box);
        out.href = CFG.urls.logout;
        out.textContent = t("logout");
        if (can("field") && CFG.add.length) {
          var add = L.DomUtil.create("a", "hehu-edit-add", box);
          add.href = "#";
          add.textContent = t("add");
          add.title = t("add_title");
          L.DomEvent.on(add, "click", function (ev) { L.DomEvent.preventDefault(ev); startAdd(add); });
        }
        return box;
      },
    });
    new Ctl().addTo(api.map);
  }

  fetch(CFG.urls.me, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : { user: null }; })
    .catch(function () { return { user: null }; })
    .then(function (body) {
      me = body || { user: null };
      return api.ready;
    })
    .then(function () {
      trackBasemap();
      api.map.on("popupopen", function (ev) { openPopup = ev.popup; });
      api.map.on("popupclose", function (ev) { if (openPopup === ev.popup) { openPopup = null; } });
      addControls();
      api.addPopupExtension(popupExtension);
    });
})();
