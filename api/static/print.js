// The print layout (A4 or A3 landscape): title, the map with its legend, scale bar and north arrow, data
// sources, the sample-data note and the date; no zoom buttons or side panel (see app.css @media print).

import { esc } from "./style.js";

const PAGE_SIZES = ["A4", "A3"];

export function setupPrint(app) {
  const select = document.querySelector("#page-size");
  let saved = null; // the view before printing, restored after

  function prepare(size = select.value) {
    const page = PAGE_SIZES.includes(size) ? size : "A4";
    select.value = page;
    document.querySelector("#page-style").textContent = `@page { size: ${page} landscape; margin: 8mm; }`;
    fillTexts(app);
    const map = app.map.map;
    if (!saved) saved = map.getBounds();
    document.body.classList.remove(...PAGE_SIZES.map((p) => `print-${p}`));
    document.body.classList.add("printing", `print-${page}`);
    map.invalidateSize({ pan: false });
    map.fitBounds(saved, { animate: false });
    return page;
  }

  function restore() {
    if (!document.body.classList.contains("printing")) return;
    document.body.classList.remove("printing", ...PAGE_SIZES.map((p) => `print-${p}`));
    app.map.map.invalidateSize({ pan: false });
    if (saved) app.map.map.fitBounds(saved, { animate: false });
    saved = null;
  }

  document.querySelector("#print").addEventListener("click", () => {
    prepare(select.value);
    // let Leaflet redraw at the page's size before the print dialog takes its snapshot
    setTimeout(() => window.print(), 250);
  });
  window.addEventListener("beforeprint", () => {
    if (!document.body.classList.contains("printing")) prepare(select.value);
  });
  window.addEventListener("afterprint", restore);
  return { prepare, restore };
}

function fillTexts(app) {
  const cfg = app.config;
  const v = app.view;
  const cat = app.category();
  const scenario = app.scenarios.name(v.scenario);
  const where = [v.district || "全部区 all districts", v.street].filter(Boolean).join(" · ");
  const reach = app.reach(v.minutes);
  const within = reach ? `步行${reach}覆盖 coverage within ${reach} walk` : `${v.minutes} 分钟覆盖 coverage within ${v.minutes} min`;
  document.querySelector("#print-title").textContent = `${cfg.region.name_zh || cfg.region.key} · ${cat.name_zh} ${within}`;
  const t = app.data?.totals;
  document.querySelector("#print-subtitle").innerHTML =
    `${esc(cat.name_en)} · ${esc(where)} · ${scenario ? `情景 scenario: ${esc(scenario)}` : "现状 baseline"}` +
    (t ? ` · 未达标社区 communities short: ${t.gaps}` : "") +
    ` · ${esc(cfg.weighting)}`;
  document.querySelector("#print-sources").textContent = `数据来源 Sources: ${cfg.sources.join("; ")}`;
  document.querySelector("#print-sample").textContent = cfg.sample_note ? `示例数据 Sample data: ${cfg.sample_note}` : "";
  const date = new Date().toISOString().slice(0, 10);
  document.querySelector("#print-date").textContent = `日期 Date: ${date} · circles ${cfg.version} · 15-minute community life circle workbench`;
}
