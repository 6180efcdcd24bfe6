/* The search box: suggestions from /search as one types, arrows and Enter to pick, a
 * pick zooms to the feature and highlights it; rivers and lakes link to 一河一档. */

import { api } from "./api.js";
import { debounce, esc, fetchJSON } from "./util.js";

export function setupSearch(ctx) {
  var map = ctx.map, config = ctx.config, T = ctx.T, entries = ctx.entries;
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var results = [];
  var active = -1;
  function renderResults() {
    if (!results.length) {
      list.innerHTML = '<li class="empty">' + esc(T.no_results) + "</li>";
    } else {
      list.innerHTML = results.map(function (r, i) {
        var detail = [r.layer_title, r.town, r.code !== r.label ? r.code : ""].filter(Boolean).join(" · ");
        // Rivers and lakes link to their 一河一档 page (any reach code opens the whole river).
        var dossier = (r.layer === "rivers" || r.layer === "lakes") && r.code && config.urls.river
          ? ' <a class="dossier" target="_blank" href="' + esc(config.urls.river.replace("{code}", encodeURIComponent(r.code))) +
            (config.lang === "en" ? "?lang=en" : "") + '">' + esc(config.lang === "en" ? "Dossier" : "一河一档") + "</a>"
          : "";
        return '<li role="option" data-i="' + i + '" class="' + (i === active ? "active" : "") + '"><b>' +
          esc(r.label) + '</b> <span class="detail">' + esc(detail) + "</span>" + dossier + "</li>";
      }).join("");
    }
    list.hidden = false;
  }
  var runSearch = debounce(function () {
    var q = input.value.trim();
    if (!q) { list.hidden = true; results = []; return; }
    fetchJSON(config.urls.search + "?q=" + encodeURIComponent(q) + "&limit=10&lang=" + config.lang)
      .then(function (body) {
        if (input.value.trim() !== q) { return; }
        results = body.results; active = results.length ? 0 : -1; renderResults();
      })
      .catch(function () { results = []; list.hidden = true; });
  }, 200);
  input.addEventListener("input", runSearch);
  input.addEventListener("keydown", function (ev) {
    if (list.hidden || !results.length) { return; }
    if (ev.key === "ArrowDown") { active = (active + 1) % results.length; renderResults(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { active = (active - 1 + results.length) % results.length; renderResults(); ev.preventDefault(); }
    else if (ev.key === "Enter" && active >= 0) { pick(results[active]); ev.preventDefault(); }
    else if (ev.key === "Escape") { list.hidden = true; }
  });
  list.addEventListener("mousedown", function (ev) {
    if (ev.target.closest("a")) { return; }  // a link in a result (一河一档) opens itself
    var li = ev.target.closest("li[data-i]");
    if (li) { pick(results[Number(li.dataset.i)]); ev.preventDefault(); }
  });
  input.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });

  function pick(r) {
    list.hidden = true;
    input.value = r.label;
    var entry = entries[r.layer];
    if (entry && !map.hasLayer(entry.group)) { entry.group.addTo(map); }
    map.fitBounds(ctx.latLngBounds(r.bbox), { maxZoom: 16, padding: [40, 40] });
    ctx.setPending(1);
    Promise.all(r.fids.map(function (fid) {
      return fetchJSON(config.urls.item.replace("{id}", encodeURIComponent(r.layer)).replace("{fid}", encodeURIComponent(fid)) + "?f=json");
    })).then(function (features) {
      ctx.extras.highlight = features;
      ctx.drawHighlight(features);
    }).catch(function () {}).then(function () { ctx.setPending(-1); });
  }
  api.pick = pick;
}
