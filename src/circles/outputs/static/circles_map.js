/* circles coverage map: one facility category and one walking time at a time.
 *
 * window.circlesMap(map, D) draws the data D (the JSON in #circles-data, written by
 * circles.outputs.webmap) on the Leaflet map: the shown category's service area and facilities, the
 * communities shaded by its covered share, and keeps the side panel (switchers, area filter,
 * headline, table per district, legend) and the print frame in step. No network access.
 * State lives in the address: #cat=park&min=15&district=成华区&street=&z=14&c=30.66,104.07&print=a4
 * (``min`` names the level, 5/10/15; a distance plan's D.reach labels them by metres: "300 m").
 */
(function () {
  "use strict";

  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function fill(tpl, vals) {
    return tpl.replace(/\{(\w+)\}/g, function (m, k) { return k in vals ? String(vals[k]) : m; });
  }
  function finite(v) { return v !== null && v !== undefined && isFinite(v); }
  function pct(v) { return finite(v) ? Math.round(100 * v) + "%" : "—"; }
  function int(v) { return Math.round(v).toLocaleString("en-US"); }
  function num(v) { return String(Number(v)); }
  function $(sel) { return document.querySelector(sel); }
  function $$(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  /* A legend swatch drawn with the marker's own options (as circles.outputs.webmap_style.marker_svg). */
  function markerSvg(st, src) {
    var r = Number(st.radius), w = Number(st.weight), size = num(2 * (r + w) + 2), c = num(r + w + 1);
    var dash = st.dashArray ? ' stroke-dasharray="' + st.dashArray + '"' : "";
    return '<svg class="marker" data-src="' + esc(src) + '" width="' + size + '" height="' + size +
      '" viewBox="0 0 ' + size + " " + size + '"><circle cx="' + c + '" cy="' + c + '" r="' + num(r) +
      '" stroke="' + st.color + '" stroke-opacity="' + num(st.opacity) + '" stroke-width="' + num(w) +
      '" stroke-linecap="' + st.lineCap + '"' + dash + ' fill="' + st.fillColor + '" fill-opacity="' +
      num(st.fillOpacity) + '"></circle></svg>';
  }

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) {
        try { out[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)); } catch (e) { /* ignore */ }
      }
    });
    return out;
  }

  function circlesMap(map, D) {
    var cats = {}, I = D.comm, N = I.name.length, T = D.text;
    D.cats.forEach(function (c) { cats[c.key] = c; });
    var S = { cat: D.cat, min: String(D.minutes), district: "", street: "", print: "" };
    /* A level as the page names it: its minutes (time plans) or its distance, "300 m" (distance plans). */
    function reach(m) { return D.reach ? D.reach[m] : m; }
    var h = readHash();
    if (h.cat && cats[h.cat]) { S.cat = h.cat; }
    if (h.min && D.levels.indexOf(Number(h.min)) >= 0) { S.min = String(Number(h.min)); }
    if (h.district && I.district.indexOf(h.district) >= 0) { S.district = h.district; }
    if (h.street && I.street.indexOf(h.street) >= 0) { S.street = h.street; }
    if (h.print === "a4" || h.print === "a3") { S.print = h.print; }
    var areaLayer = null, facLayer = null, layerOf = {};

    function inArea(i) {
      return (!S.district || I.district[i] === S.district) && (!S.street || I.street[i] === S.street);
    }
    function rows() {
      var out = [];
      for (var i = 0; i < N; i++) { if (inArea(i)) { out.push(i); } }
      return out;
    }
    function shareColour(v) {
      if (!finite(v)) { return D.style.na; }
      var cl = D.style.shareClasses;
      for (var k = 0; k < cl.length; k++) { if (v < cl[k][0]) { return cl[k][1]; } }
      return cl[cl.length - 1][1];
    }

    // ------------------------------------------------------------------------- communities
    function commStyle(f) {
      var c = cats[S.cat], i = f.id, on = inArea(i), gap = c.gap[S.min][i] === 1;
      return {
        fillColor: c.applies[i] ? shareColour(c.share[S.min][i]) : D.style.na,
        fillOpacity: on ? 0.8 : 0.12,
        color: gap ? D.style.gapOutline : D.style.okOutline,
        weight: gap ? 2.0 : 1.2,
        opacity: on ? 1.0 : 0.25
      };
    }
    function commTip(i) {
      var c = cats[S.cat], m = S.min, res = I.residents[i];
      var where = [I.district[i], I.street[i]].filter(Boolean).map(esc).join(" · ");
      var who = "居民 Residents: " + (finite(res) ?
        (I.residentsEst[i] ? "~" + int(res) + " (人口普查估算 census estimate)" : int(res)) : "未知 unknown");
      if (D.weightKind === "area") {
        who += " — 覆盖率按面积加权 area-weighted (" + Number(I.areaHa[i]).toFixed(1) + " ha)";
      }
      var status, within = D.reach ? "步行" + reach(m) + "内覆盖 covered within " + reach(m) + " walk" :
        m + "分钟内覆盖 covered within " + m + " min";
      if (!c.applies[i]) { status = "不适用 not required for this community type"; }
      else if (c.gap[m][i]) {
        status = '<b style="color:#a50026">缺口 GAP</b> — ' + within + ": <b>" + pct(c.share[m][i]) + "</b>";
      } else {
        status = '<b style="color:#1a9850">已覆盖 covered</b> — ' + within + ": <b>" + pct(c.share[m][i]) + "</b>";
      }
      var levels = D.levels.map(function (lv) { return pct(c.share[String(lv)][i]); }).join(" / ");
      var thrM = c.thrM && finite(c.thrM[i]), thrText = thrM ? num(c.thrM[i]) + " m: " :
        num(c.thrMin[i]) + " min: ";
      var thr = thrM || finite(c.thrMin[i]) ? "<br>规划阈值 planning threshold " + thrText +
        pct(c.covShare[i]) + " (目标 target " + pct(c.target[i]) + ")" +
        (c.listed[i] ? " — 列入缺口清单 in gap list" : "") : "";
      var levelNames = D.reach ? D.levels.map(function (lv) { return reach(String(lv)); }).join(" / ") :
        D.levels.join(" / ") + " 分钟 min";
      var near = finite(c.nearMin[i]) ? "最近 Nearest: " + esc(c.nearName[i] || "(未命名 unnamed)") +
        (c.nearSample[i] ? " <b>[示例 SAMPLE]</b>" : "") + ", " + Number(c.nearMin[i]).toFixed(1) +
        " 分钟 min (" + int(c.nearM[i]) + " m)" : "最近 Nearest: 不可达 none reachable";
      return "<b>" + esc(I.name[i] || "(未命名 unnamed)") + "</b>" + (where ? " · " + where : "") +
        "<br>" + who + "<br>" + esc(c.zh) + " " + esc(c.en) + " (" + esc(c.profile[i]) + "): " + status +
        "<br>" + levelNames + ": " + levels + thr + "<br>" + near;
    }
    var commLayer = L.geoJSON(D.communities, {
      pane: D.panes.communities,
      smoothFactor: 0.5,
      style: commStyle,
      onEachFeature: function (f, l) {
        layerOf[f.id] = l;
        l.bindTooltip(function () { return commTip(f.id); }, { sticky: true });
        l.on("mouseover", function () { l.setStyle({ weight: 4, color: "#00e5ff", fillOpacity: 0.9 }); });
        l.on("mouseout", function () { commLayer.resetStyle(l); });
      }
    }).addTo(map);

    // --------------------------------------------------------------------- areas, facilities
    function drawCategory() {
      var c = cats[S.cat], col = D.style.levels[S.min] || "#2171b5";
      if (areaLayer) { map.removeLayer(areaLayer); }
      if (facLayer) { map.removeLayer(facLayer); }
      areaLayer = L.geoJSON(c.areas[S.min], {
        pane: D.panes.areas,
        interactive: false,
        style: function () { return { color: col, weight: 1.2, fillColor: col, fillOpacity: 0.16, opacity: 0.9 }; }
      }).addTo(map);
      facLayer = L.geoJSON(c.facilities, {
        pointToLayer: function (f, ll) {
          var src = c.markers[f.properties.s] ? f.properties.s : "osm";
          var opts = L.extend({}, c.markers[src], {
            pane: D.panes.facilities, className: "circles-marker circles-marker-" + src
          });
          return L.circleMarker(ll, opts);
        },
        onEachFeature: function (f, l) {
          l.bindPopup(f.properties.popup, { maxWidth: 320 });
          l.bindTooltip(f.properties.popup, { direction: "top" });
        }
      }).addTo(map);
      commLayer.setStyle(commStyle);
    }

    // ----------------------------------------------------------------------- headline, table
    function figures(c, m, idx) {
      var f = { n: 0, gap: 0, zero: 0, w: 0, ws: 0, res: 0, est: false };
      var zeroUpper = D.style.shareClasses[0][0];
      idx.forEach(function (i) {
        if (!c.applies[i]) { return; }
        var sh = c.share[m][i], w = c.weight[i] || 0;
        f.n += 1;
        if (finite(sh) && sh < zeroUpper) { f.zero += 1; }
        f.w += w;
        f.ws += (sh || 0) * w;
        if (c.gap[m][i]) {
          f.gap += 1;
          if (finite(I.residents[i])) { f.res += I.residents[i]; f.est = f.est || !!I.residentsEst[i]; }
        }
      });
      return f;
    }
    var hasResidents = I.residents.some(finite);
    function areaLabel() { return [S.district, S.street].filter(Boolean).join(" · "); }
    function headline() {
      var c = cats[S.cat], f = figures(c, S.min, rows()), where = areaLabel();
      var fac = fill(T.facilities, { n: c.nFac }) + (c.nSample ? fill(T.sample, { n: c.nSample }) : "");
      $("#circles-answer").innerHTML = fill(T.answer, {
        category: esc(c.zh) + " " + esc(c.en),
        where: where ? fill(T.where, { where: esc(where) }) : "",
        n_gap: f.gap, n: f.n, minutes: S.min, reach: reach(S.min), n_zero: f.zero,
        basis: D.weightKind === "area" ? T.basis_area : T.basis_people,
        share: pct(f.w > 0 ? f.ws / f.w : NaN),
        residents: hasResidents ? fill(T.residents, {
          residents: (f.est ? "~" : "") + int(f.res), est: f.est ? T.est : ""
        }) : "",
        facilities: fac
      });
    }
    function groupTable() {
      var host = $("#circles-table");
      if (!host) { return; }
      var c = cats[S.cat], key = S.district ? "street" : "district", groups = {}, order = [];
      for (var i = 0; i < N; i++) {
        if (S.district && I.district[i] !== S.district) { continue; }
        var g = I[key][i];
        if (!g) { continue; }
        if (!(g in groups)) { groups[g] = []; order.push(g); }
        groups[g].push(i);
      }
      if (!order.length) { host.innerHTML = ""; return; }
      order.sort();
      var head = key === "street" ? "街道 Sub-district" : "区 District";
      var html = '<table class="groups"><thead><tr><th>' + head + "</th><th>未达标 short</th>" +
        (hasResidents ? "<th>缺口居民 residents in gaps</th>" : "") + "</tr></thead><tbody>";
      order.forEach(function (g) {
        var f = figures(c, S.min, groups[g]), sel = (key === "district" ? S.district : S.street) === g;
        html += '<tr data-group="' + esc(g) + '"' + (sel ? ' class="sel"' : "") + "><td>" + esc(g) +
          "</td><td>" + f.gap + " / " + f.n + "</td>" +
          (hasResidents ? "<td>" + (f.est ? "~" : "") + int(f.res) + "</td>" : "") + "</tr>";
      });
      host.innerHTML = html + "</tbody></table>";
      $$("#circles-table tr[data-group]").forEach(function (tr) {
        tr.addEventListener("click", function () {
          var g = tr.getAttribute("data-group");
          if (key === "district") { S.district = S.district === g ? "" : g; S.street = ""; }
          else { S.street = S.street === g ? "" : g; }
          syncFilter();
          update(true);
        });
      });
    }
    function catCounts() {
      var idx = rows();
      $$("#circles-cats .n").forEach(function (el) {
        var f = figures(cats[el.getAttribute("data-key")], S.min, idx);
        el.textContent = f.gap + "/" + f.n;
      });
    }
    function legend() {
      var c = cats[S.cat];
      $$("#circles-legend .mk[data-src]").forEach(function (row) {
        var src = row.getAttribute("data-src"), old = row.querySelector("svg.marker");
        if (old && c.markers[src]) { old.outerHTML = markerSvg(c.markers[src], src); }
      });
      $$("#circles-legend .lg-min").forEach(function (el) { el.textContent = reach(S.min); });
      $$("#circles-legend .lv").forEach(function (el) {
        el.classList.toggle("off", el.getAttribute("data-min") !== S.min);
      });
    }

    // ------------------------------------------------------------------------------- print
    function printFrame() {
      var c = cats[S.cat], where = areaLabel();
      $("#circles-print .p-cat").textContent = c.zh + " " + c.en;
      $("#circles-print .p-min").textContent = reach(S.min);
      $("#circles-print .p-where").textContent = where ? " · " + where : "";
      $("#circles-print .p-legend").innerHTML = '<div class="answer">' + $("#circles-answer").innerHTML +
        "</div>" + $("#circles-legend").outerHTML.replace(/ id="circles-legend"/, "");
      scaleText();
    }
    function scaleText() {
      var ctr = map.getCenter(), z = map.getZoom();
      var mPerPx = 40075016.686 * Math.cos(ctr.lat * Math.PI / 180) / Math.pow(2, z + 8);
      var denom = mPerPx / (0.0254 / 96), p = Math.pow(10, Math.floor(Math.log10(denom)) - 1);
      var el = $("#circles-print .p-ratio");
      if (el) {
        el.textContent = "≈ 1:" + int(Math.round(denom / p) * p) + " (" + (S.print === "a3" ? "A3" : "A4") + " @ 100%)";
      }
    }
    var pageStyle = null;
    function setPrint(on, paper) {
      document.documentElement.classList.toggle("circles-print", on);
      document.documentElement.classList.toggle("circles-a3", on && paper === "a3");
      if (on && paper === "a3" && !pageStyle) {
        pageStyle = document.createElement("style");
        pageStyle.textContent = "@page { size: A3 landscape; margin: 0; }";
        document.head.appendChild(pageStyle);
      }
      map.invalidateSize({ animate: false, pan: false });
    }
    window.addEventListener("beforeprint", function () { if (!S.print) { setPrint(true, "a4"); printFrame(); } });
    window.addEventListener("afterprint", function () { if (!S.print) { setPrint(false, ""); } });
    map.on("zoomend moveend resize", scaleText);

    // ---------------------------------------------------------------------------- controls
    function fitArea() {
      var b = null;
      rows().forEach(function (i) {
        var l = layerOf[i];
        if (l) { b = b ? b.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast()); }
      });
      if (b && b.isValid()) { map.fitBounds(b, { padding: [16, 16], animate: false }); }
    }
    function syncFilter() {
      var ds = $("#circles-district"), ss = $("#circles-street");
      if (ds) { ds.value = S.district; }
      if (ss) {
        var names = {};
        for (var i = 0; i < N; i++) {
          if (I.street[i] && (!S.district || I.district[i] === S.district)) { names[I.street[i]] = 1; }
        }
        ss.innerHTML = '<option value="">全部街道 all 街道</option>' + Object.keys(names).sort().map(function (s) {
          return '<option value="' + esc(s) + '">' + esc(s) + "</option>";
        }).join("");
        ss.value = S.street;
      }
    }
    function writeHash() {
      var c = map.getCenter();
      var parts = ["cat=" + encodeURIComponent(S.cat), "min=" + S.min];
      if (S.district) { parts.push("district=" + encodeURIComponent(S.district)); }
      if (S.street) { parts.push("street=" + encodeURIComponent(S.street)); }
      parts.push("z=" + num(map.getZoom()), "c=" + c.lat.toFixed(5) + "," + c.lng.toFixed(5));
      if (S.print) { parts.push("print=" + S.print); }
      try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// in some browsers */ }
    }
    function update(fit) {
      drawCategory();
      headline();
      catCounts();
      groupTable();
      legend();
      if (fit) { fitArea(); }
      printFrame();
      document.title = document.title.replace(/— .*$/, "— " + cats[S.cat].zh + " " + cats[S.cat].en);
      document.documentElement.setAttribute("data-circles-cat", S.cat);
      document.documentElement.setAttribute("data-circles-min", S.min);
    }
    $$('input[name="circles-cat"]').forEach(function (el) {
      el.checked = el.value === S.cat;
      el.addEventListener("change", function () { if (el.checked) { S.cat = el.value; update(false); writeHash(); } });
    });
    $$('input[name="circles-min"]').forEach(function (el) {
      el.checked = el.value === S.min;
      el.addEventListener("change", function () { if (el.checked) { S.min = el.value; update(false); writeHash(); } });
    });
    var ds = $("#circles-district"), ss = $("#circles-street"), pb = $("#circles-print-btn");
    if (ds) { ds.addEventListener("change", function () { S.district = ds.value; S.street = ""; syncFilter(); update(true); writeHash(); }); }
    if (ss) { ss.addEventListener("change", function () { S.street = ss.value; update(true); writeHash(); }); }
    if (pb) { pb.addEventListener("click", function () { window.print(); }); }
    map.on("moveend", function () { if (started) { writeHash(); } });

    var started = false, ll = (h.c || "").split(",").map(Number);
    syncFilter();
    if (S.print) { setPrint(true, S.print); }
    update(false);
    if (h.z && ll.length === 2 && isFinite(ll[0]) && isFinite(ll[1]) && isFinite(Number(h.z))) {
      map.setView(ll, Number(h.z), { animate: false });
    } else if (S.district || S.street) {
      fitArea();
    } else {
      map.fitBounds(D.bounds, S.print ? { paddingTopLeft: [16, 70], paddingBottomRight: [160, 16], animate: false } :
        { padding: [12, 12], animate: false });
    }
    printFrame();
    started = true;
  }

  window.circlesMap = circlesMap;
})();
