// The side panel's tables: the headline, the gap list (sortable; a row click zooms to the community),
// the table per district / 街道, scenario deltas and the side-by-side comparison.

import { esc, num, pct, signed } from "./style.js";

/** The gap list's columns: [key, header, value of an item, format]. */
function gapColumns(people) {
  const cols = [
    ["name", "社区/小区 community", (g) => g.community_name, (v) => esc(v)],
    ["district", "区 district", (g) => g.district || "", (v) => esc(v)],
    ["share", "覆盖 covered", (g) => g.covered_share, (v) => pct(v)],
  ];
  if (people) cols.push(["uncovered", "未覆盖居民 residents uncovered", (g) => g.uncovered_residents, (v) => num(v)]);
  else {
    cols.push(["uncovered", "未覆盖面积 m² uncovered", (g) => g.uncovered_area_m2, (v) => num(v)]);
    cols.push(["estimate", "居民估算 residents (est.)", (g) => g.uncovered_residents_estimate, (v) => num(v)]);
  }
  cols.push(["nearest", "最近 nearest min", (g) => g.nearest_time_min, (v) => num(v, 1)]);
  return cols;
}

export class GapTable {
  constructor(element, onRow) {
    this.el = element;
    this.onRow = onRow;
    this.sort = { key: "rank", dir: 1 };
    this.items = [];
    this.people = false;
  }

  set(items, people) {
    this.items = items;
    this.people = people;
    this.render();
  }

  render() {
    const cols = gapColumns(this.people);
    const col = cols.find((c) => c[0] === this.sort.key);
    const rows = this.items.slice();
    if (col) {
      const value = col[2];
      rows.sort((a, b) => {
        const va = value(a);
        const vb = value(b);
        if (va === vb) return 0;
        if (va === null || va === undefined) return 1;
        if (vb === null || vb === undefined) return -1;
        return (va < vb ? -1 : 1) * this.sort.dir;
      });
    }
    const head = cols
      .map(([key, label]) => {
        const mark = this.sort.key === key ? (this.sort.dir > 0 ? " ▲" : " ▼") : "";
        return `<th data-key="${key}" class="sortable" title="排序 sort">${esc(label)}${mark}</th>`;
      })
      .join("");
    const body = rows
      .map((g) => `<tr data-id="${esc(g.community_id)}">${cols.map(([, , v, f]) => `<td>${f(v(g))}</td>`).join("")}</tr>`)
      .join("");
    this.el.innerHTML =
      `<table class="gaps"><thead><tr>${head}</tr></thead><tbody>${body || `<tr><td colspan="${cols.length}" class="muted">无缺口 no gaps</td></tr>`}</tbody></table>`;
    this.el.querySelectorAll("th.sortable").forEach((th) =>
      th.addEventListener("click", () => {
        const key = th.dataset.key;
        this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : key === "name" || key === "district" ? 1 : -1 };
        this.render();
      }),
    );
    this.el.querySelectorAll("tbody tr[data-id]").forEach((tr) => tr.addEventListener("click", () => this.onRow(tr.dataset.id)));
  }
}

/** Headline of the current view: covered share, communities short, residents (or area) uncovered. */
export function headlineHtml({ category, minutes, reach, totals, scenarioName, delta, where }) {
  const [zh, en] = totals.people ? ["居民", "residents"] : ["面积", "area"];
  const unit = totals.people ? "" : " m²";
  let html =
    `<div class="headline-cat">${esc(category.name_zh)} <span class="en">${esc(category.name_en)}</span> · ${reach ? `步行 ${esc(reach)} walk` : `${esc(minutes)} 分钟 min`}</div>` +
    `<div class="figures">` +
    `<div><span class="big" id="covered-share">${pct(totals.coveredShare)}</span><span class="lbl">${zh}覆盖 ${en} covered</span></div>` +
    `<div><span class="big" id="gap-count">${num(totals.gaps)}</span><span class="lbl">未达标社区 communities short</span></div>` +
    `<div><span class="big">${num(totals.uncovered)}${unit}</span><span class="lbl">未覆盖${zh} ${en} uncovered</span></div>` +
    (totals.estimate !== null
      ? `<div><span class="big">≈ ${num(totals.estimate)}</span><span class="lbl">未覆盖居民估算 residents uncovered (ESTIMATE)</span></div>`
      : "") +
    `</div>` +
    `<div class="muted">${esc(where)}${scenarioName ? ` · 情景 scenario: <b>${esc(scenarioName)}</b>` : " · 现状 baseline"}</div>`;
  if (delta) html += deltaHtml(delta);
  return html;
}

export function deltaHtml(delta) {
  const d = delta.delta || {};
  return (
    `<div class="delta" id="delta">情景对比现状 scenario vs baseline: ` +
    `<b id="delta-covered">${signed(d.residents_newly_covered)}</b> 新覆盖居民 residents newly covered` +
    `${delta.residents_estimated ? " (估算 ESTIMATE)" : ""} · ` +
    `<b id="delta-gaps">${num(d.gaps_closed)}</b> 缺口消除 gaps closed ` +
    `<span class="muted">(未达标 short ${num(delta.baseline?.communities_short)} → ${num(delta.scenario_values?.communities_short)})</span></div>`
  );
}

/** The table per district (or per 街道 inside one district): roll-up rows of /gaps?group_by=. */
export function districtTableHtml(rows, { level, people, estimates, byDistrict }) {
  const head =
    `<th>${level === "street" ? "街道 street" : "区 district"}</th><th>未达标/社区 short / all</th><th>覆盖 covered</th>` +
    `<th>${people ? "覆盖居民 residents covered" : "覆盖面积 m² covered"}</th>` +
    (estimates ? "<th>居民估算 residents covered (est.)</th>" : "") +
    (byDistrict ? "<th>情景 Δ short</th><th>新覆盖 newly covered</th>" : "");
  const body = rows
    .map((r) => {
      const est = estimates ? estimates.get(r.group) : null;
      const d = byDistrict ? byDistrict.get(r.group) : null;
      return (
        `<tr data-group="${esc(r.group)}"><td>${esc(r.group)}</td><td>${num(r.members_short)} / ${num(r.members_applicable)}</td>` +
        `<td>${pct(r.covered_share)}</td><td>${num(r.covered_weight)}</td>` +
        (estimates ? `<td>${est ? `${num(est.covered)} / ${num(est.total)}` : "—"}</td>` : "") +
        (byDistrict
          ? `<td>${d ? `${num(d.baseline_short)} → ${num(d.scenario_short)}` : "—"}</td><td>${d ? signed(d.residents_newly_covered) : "—"}</td>`
          : "") +
        `</tr>`
      );
    })
    .join("");
  return `<table class="districts"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Two scenarios side by side (from /scenarios/compare). */
export function compareHtml(result, names) {
  const rows = [
    ["未达标社区 communities short", (x) => num(x.scenario_values?.communities_short)],
    ["覆盖居民 residents covered", (x) => num(x.scenario_values?.residents_covered)],
    ["未覆盖居民 residents uncovered", (x) => num(x.scenario_values?.residents_uncovered)],
    ["缺口消除 gaps closed", (x) => num(x.delta?.gaps_closed)],
    ["新覆盖居民 newly covered", (x) => signed(x.delta?.residents_newly_covered)],
  ];
  const a = result.a || {};
  const b = result.b || {};
  return (
    `<table class="compare" id="compare-table"><thead><tr><th></th><th>A: ${esc(names.a)}</th><th>B: ${esc(names.b)}</th></tr></thead><tbody>` +
    rows.map(([label, f]) => `<tr><td>${label}</td><td>${f(a)}</td><td>${f(b)}</td></tr>`).join("") +
    `</tbody></table>`
  );
}
