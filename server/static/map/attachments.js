/* Photos in the map popup: before/after thumbnails side by side, and an upload button
 * that opens the phone camera for field users and up.
 *
 * One entry point, called by the popup code (edit.js) for each opened feature:
 *   window.hehuAttachments.popup(layerId, fid, element, {role, csrf, zh, refit})
 * Everything it shows comes from GET /collections/{id}/items/{fid}/attachments; uploads
 * go to POST on the same URL (multipart: file, kind) with the session's CSRF token.
 * No inline script or style (the page's CSP): the rules live in attachments.css.
 */
(function () {
  "use strict";

  var RANK = { viewer: 0, field: 1, editor: 2, admin: 3 };
  var S = {
    zh: { photos: "照片", before: "整改前", after: "整改后", other: "其他", upload: "上传照片", none: "暂无照片",
          kind: "类别", uploading: "正在上传…", away: "距要素 {d} 米", taken: "拍摄 {t}", failed: "上传失败：" },
    en: { photos: "Photos", before: "Before", after: "After", other: "Other", upload: "Upload photo", none: "No photos yet",
          kind: "Kind", uploading: "Uploading…", away: "{d} m from the feature", taken: "taken {t}", failed: "Upload failed: " },
  };

  var cssLoaded = false;
  function loadCss() {
    if (cssLoaded) { return; }
    cssLoaded = true;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    var self = document.querySelector('script[src*="map/attachments.js"]');
    link.href = self ? self.src.replace(/attachments\.js.*$/, "attachments.css") : "/static/map/attachments.css";
    document.head.appendChild(link);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text != null) { e.textContent = text; }
    return e;
  }

  function thumb(rec, s) {
    var links = {};
    (rec.links || []).forEach(function (l) { links[l.rel] = l.href; });
    var fig = el("figure", "hehu-att-item");
    var a = el("a");
    a.href = links.enclosure;
    a.target = "_blank";
    a.rel = "noopener";
    if (links.preview) {
      var img = el("img");
      img.src = links.preview;
      img.alt = rec.name;
      img.loading = "lazy";
      a.appendChild(img);
    } else {
      a.textContent = rec.name;
    }
    fig.appendChild(a);
    var notes = [];
    if (rec.taken_at) { notes.push(s.taken.replace("{t}", rec.taken_at.slice(0, 16).replace("T", " "))); }
    if (rec.distance_m != null) { notes.push(s.away.replace("{d}", Math.round(rec.distance_m))); }
    if (notes.length) { fig.appendChild(el("figcaption", null, notes.join(" · "))); }
    return fig;
  }

  function render(box, records, s) {
    box.innerHTML = "";
    if (!records.length) { box.appendChild(el("p", "hehu-att-none", s.none)); return; }
    var pair = el("div", "hehu-att-pair");
    ["before", "after"].forEach(function (kind) {
      var mine = records.filter(function (r) { return r.kind === kind; });
      if (!mine.length) { return; }
      var col = el("div", "hehu-att-col");
      col.appendChild(el("b", null, s[kind]));
      mine.forEach(function (r) { col.appendChild(thumb(r, s)); });
      pair.appendChild(col);
    });
    box.appendChild(pair);
    var others = records.filter(function (r) { return r.kind !== "before" && r.kind !== "after"; });
    if (others.length) {
      var row = el("div", "hehu-att-col hehu-att-other");
      row.appendChild(el("b", null, s.other));
      others.forEach(function (r) { row.appendChild(thumb(r, s)); });
      box.appendChild(row);
    }
  }

  function uploadForm(url, ctx, s, reload) {
    var form = el("form", "hehu-att-upload");
    var input = el("input");
    input.type = "file";
    input.name = "file";
    input.accept = "image/*";
    input.setAttribute("capture", "environment");
    var kind = el("select");
    kind.name = "kind";
    kind.title = s.kind;
    ["before", "after", "other"].forEach(function (k) {
      var o = el("option", null, s[k]);
      o.value = k;
      kind.appendChild(o);
    });
    var button = el("button", null, s.upload);
    button.type = "submit";
    var status = el("span", "hehu-att-status");
    status.setAttribute("role", "status");
    form.appendChild(input);
    form.appendChild(kind);
    form.appendChild(button);
    form.appendChild(status);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!input.files || !input.files.length) { input.click(); return; }
      var body = new FormData();
      body.append("file", input.files[0], input.files[0].name);
      body.append("kind", kind.value);
      var headers = { Accept: "application/json" };
      if (ctx.csrf) { headers["X-CSRF-Token"] = ctx.csrf; }
      status.textContent = s.uploading;
      button.disabled = true;
      fetch(url + (ctx.zh ? "" : "?lang=en"), { method: "POST", body: body, headers: headers, credentials: "same-origin" })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (data) {
            if (!r.ok) { throw new Error(data.description || ("HTTP " + r.status)); }
            return data;
          });
        })
        .then(function () { status.textContent = ""; form.reset(); reload(); })
        .catch(function (err) { status.textContent = s.failed + err.message; })
        .then(function () { button.disabled = false; if (ctx.refit) { ctx.refit(); } });
    });
    return form;
  }

  function popup(layerId, fid, element, ctx) {
    ctx = ctx || {};
    loadCss();
    var s = ctx.zh === false ? S.en : S.zh;
    var url = "/collections/" + encodeURIComponent(layerId) + "/items/" + encodeURIComponent(fid) + "/attachments";
    var section = el("div", "hehu-att");
    section.appendChild(el("div", "hehu-att-title", s.photos));
    var box = el("div", "hehu-att-list");
    section.appendChild(box);
    function reload() {
      fetch(url + (ctx.zh === false ? "?lang=en" : ""), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { attachments: [] }; })
        .then(function (data) {
          var records = data.attachments || [];
          render(box, records, s);
          if (records.length) { section.hidden = false; }
          if (ctx.refit) { ctx.refit(); }
        })
        .catch(function () { box.textContent = ""; });
    }
    var canUpload = !!(ctx.role && RANK[ctx.role] >= RANK.field);
    if (canUpload) { section.appendChild(uploadForm(url, ctx, s, reload)); }
    // A reader sees the section only when there is something to see.
    section.hidden = !canUpload;
    element.appendChild(section);
    reload();
  }

  window.hehuAttachments = { popup: popup };
})();
