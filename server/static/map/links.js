/* Links into the map: a filtered layer (from the targets page) says so, zooms to its
 * town and offers to clear it; ?feature=layer/fid (an OGC API item page's "show on the
 * map") zooms to that feature and highlights it. */

import { esc, fetchJSON, fmt } from "./util.js";

export function setupLinks(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, byId = ctx.byId, entries = ctx.entries;
  var linked = ctx.linked;
  if (linked) {
    var lcfg = byId[linked.id];
    var words = [lcfg.title].concat(linked.pairs.map(function (p) {
      var f = lcfg.fields[p[0]] || {};
      if (p[0] === "town") { return p[1]; }
      return (f.title || p[0]) + " " + p[1].split(",").map(function (v) { return ctx.display(lcfg, p[0], v); }).join("、");
    }));
    var fb = document.createElement("div");
    fb.id = "filter-banner";
    fb.className = "hehu-box";
    var clear = window.location.pathname + (config.lang === "en" ? "?lang=en" : "");
    fb.innerHTML = esc(fmt(T.filtered, { what: words.join(" · ") })) + ' <a href="' + esc(clear) + '">' + esc(T.clear_filter) + "</a>";
    document.body.appendChild(fb);
    var townPair = linked.pairs.filter(function (p) { return p[0] === "town"; })[0];
    if (townPair) {
      fetchJSON(config.urls.search + "?q=" + encodeURIComponent(townPair[1]) + "&layers=towns&limit=1")
        .then(function (body) {
          var hit = body.results && body.results[0];
          if (hit && hit.label === townPair[1]) { map.fitBounds(ctx.latLngBounds(hit.bbox), { padding: [30, 30] }); }
        }).catch(function () {});
    }
  }

  var focus = new URLSearchParams(window.location.search).get("feature");
  if (focus && focus.indexOf("/") > 0 && entries[focus.split("/")[0]]) {
    var fl = focus.split("/")[0], ff = focus.split("/")[1];
    if (!map.hasLayer(entries[fl].group)) { entries[fl].group.addTo(map); }
    ctx.setPending(1);
    fetchJSON(config.urls.item.replace("{id}", encodeURIComponent(fl)).replace("{fid}", encodeURIComponent(ff)) + "?f=json")
      .then(function (f) {
        ctx.extras.highlight = [f];
        ctx.drawHighlight([f]);
        map.fitBounds(L.geoJSON(f, { coordsToLatLng: ctx.coordsToLatLng }).getBounds(), { maxZoom: 16, padding: [60, 60] });
      }).catch(function () {}).then(function () { ctx.setPending(-1); });
  }
}
