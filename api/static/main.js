// The workbench: one category and one time threshold at a time, a district / 街道 filter, the map and
// the side panel, all drawn from the service's public endpoints (and scenarios when one is chosen).

import { getJson, onTokenNeeded, qs } from "./api.js";
import { WorkMap } from "./map.js";
import { GapTable, districtTableHtml, headlineHtml } from "./panel.js";
import { setupPrint } from "./print.js";
import { ScenarioPanel } from "./scenario.js";
import { categoryColour, esc } from "./style.js";
import { showError } from "./ui.js";

const $ = (sel) => document.querySelector(sel);
const MAX_PAGE = 1000;

class App {
  constructor() {
    this.view = { category: "", minutes: 15, district: "", street: "", scenario: "" };
    this.seq = 0;
    this.refreshes = 0; // finished refreshes (tests wait on it)
    this.loading = false; // a refresh in flight
    this.ops = 0; // edits in flight (scenario changes, creation, undo)
    this.data = null; // what the last refresh drew
  }

  /** Nothing in flight: no refresh and no edit (tests wait on it). */
  get busy() {
    return this.loading || this.ops > 0;
  }

  /** Run a user action (``fn`` returns a promise), counted in ``busy``; errors are shown, not thrown. */
  async track(fn) {
    this.ops++;
    document.body.classList.add("busy");
    try {
      return await fn();
    } catch (e) {
      showError(e);
      return undefined;
    } finally {
      this.ops--;
      if (!this.busy) document.body.classList.remove("busy");
    }
  }

  async start() {
    const [config, categories, communities, context] = await Promise.all([
      getJson("/app/config"),
      getJson("/categories"),
      getJson("/app/communities"),
      getJson("/app/context").catch(() => null),
    ]);
    this.config = config;
    this.categories = categories;
    this.communities = new Map(communities.items.map((c) => [c.community_id, c]));
    this.map = new WorkMap($("#map"), config.region.bbox, `${config.attribution} (ODbL)`);
    if (context) this.map.setContext(context);
    this.gapTable = new GapTable($("#gap-table"), (id) => this.map.zoomToCommunity(id));
    this.fillControls();
    this.scenarios = new ScenarioPanel(this);
    this.print = setupPrint(this);
    onTokenNeeded((reason) => askToken(reason));
    $("#notes").innerHTML =
      `<h2>数据 Data</h2><ul>${config.sources.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>` +
      (config.sample_note ? `<p class="sample">${esc(config.sample_note)}</p>` : "") +
      `<ul>${config.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` +
      `<p><a href="/docs">API /docs</a> · <a href="/redoc">/redoc</a></p>`;
    await this.scenarios.load();
    await this.refresh();
    document.body.classList.remove("loading");
    document.body.classList.add("ready");
  }

  fillControls() {
    const cat = $("#category");
    cat.innerHTML = this.categories
      .map((c) => `<option value="${esc(c.key)}">${esc(c.name_zh)} ${esc(c.name_en)}</option>`)
      .join("");
    const first = this.categories.find((c) => c.key === "canteen") || this.categories[0];
    cat.value = first.key;
    this.view.category = first.key;
    this.view.minutes = ownMinutes(first);
    this.labelLevels();
    this.syncMinutes();
    cat.addEventListener("change", () => {
      this.view.category = cat.value;
      this.view.minutes = ownMinutes(this.category());
      this.syncMinutes();
      this.map.sites.clearLayers();
      this.refresh();
    });
    document.querySelectorAll('input[name="minutes"]').forEach((r) =>
      r.addEventListener("change", () => {
        this.view.minutes = Number(r.value);
        this.refresh();
      }),
    );
    const dist = $("#district");
    dist.insertAdjacentHTML("beforeend", this.config.districts.map((d) => `<option value="${esc(d)}">${esc(d)}</option>`).join(""));
    dist.addEventListener("change", () => {
      this.view.district = dist.value;
      this.view.street = "";
      this.fillStreets();
      this.refresh({ zoom: true });
    });
    $("#street").addEventListener("change", () => {
      this.view.street = $("#street").value;
      this.refresh({ zoom: true });
    });
    this.fillStreets();
  }

  fillStreets() {
    const streets = this.config.streets.filter((s) => !this.view.district || s.district === this.view.district);
    $("#street-ctl").hidden = this.config.streets.length === 0;
    $("#street").innerHTML =
      `<option value="">全部 all</option>` + streets.map((s) => `<option value="${esc(s.street)}">${esc(s.street)}</option>`).join("");
  }

  /** A distance service (config.measure) names the 5/10/15 levels by their walking metres. */
  labelLevels() {
    if (!this.reach(5)) return;
    $("#minutes-title").textContent = "步行距离 Distance";
    document.querySelectorAll('input[name="minutes"]').forEach((r) => {
      r.parentElement.querySelector(".reach").textContent = this.reach(Number(r.value));
    });
  }

  /** The level of ``minutes`` as a distance service names it ("500 m"), or null (a time service). */
  reach(minutes) {
    const m = this.config.measure === "distance" ? this.config.level_walk_m?.[String(minutes)] : null;
    return m ? `${m} m` : null;
  }

  /** The threshold of a view in the service's measure: {minutes} or, under distance, {walk_m}. */
  within(v) {
    const m = this.config.measure === "distance" ? this.config.level_walk_m?.[String(v.minutes)] : null;
    return m ? { walk_m: m } : { minutes: v.minutes };
  }

  syncMinutes() {
    const radios = [...document.querySelectorAll('input[name="minutes"]')];
    let match = radios.find((r) => Number(r.value) === this.view.minutes);
    if (!match) {
      match = radios[radios.length - 1];
      this.view.minutes = Number(match.value);
    }
    match.checked = true;
  }

  category() {
    return this.categories.find((c) => c.key === this.view.category);
  }

  /** Whether a community passes the district / 街道 filter. */
  inView(id) {
    const c = this.communities.get(id);
    if (!c) return !this.view.district && !this.view.street;
    return (!this.view.district || c.district === this.view.district) && (!this.view.street || c.street === this.view.street);
  }

  /** Fetch the current view's layers and tables and draw them; stale answers are dropped. */
  async refresh({ zoom = false } = {}) {
    const seq = ++this.seq;
    const v = { ...this.view };
    this.loading = true;
    document.body.classList.add("busy");
    try {
      const drawn = await this.fetchView(v);
      if (seq !== this.seq) return;
      this.draw(v, drawn, zoom);
      this.refreshes++;
    } catch (e) {
      if (seq === this.seq) showError(e);
    } finally {
      if (seq === this.seq) {
        this.loading = false;
        if (!this.busy) document.body.classList.remove("busy");
      }
    }
  }

  async fetchView(v) {
    const base = { category: v.category, ...this.within(v), scenario: v.scenario || undefined };
    const level = v.district && this.config.levels.includes("street") ? "street" : "district";
    const facilities = v.scenario
      ? getJson(`/scenarios/${encodeURIComponent(v.scenario)}/facilities${qs({ category: v.category })}`).then(fromFeatures)
      : getJson(`/facilities${qs({ category: v.category, limit: MAX_PAGE })}`).then((r) => r.items.map(fromFacility));
    // under a scenario the delta comes first: it builds the scenario's plan once, which the other
    // requests then share (sent together, each would build it while the others wait for the CPU)
    const delta = v.scenario ? await this.scenarios.delta(v) : null;
    const [coverage, gaps, rollup, facs] = await Promise.all([
      getJson(`/coverage${qs(base)}`),
      allGaps({ ...base, district: v.district || undefined, kind: "coverage" }),
      getJson(`/gaps${qs({ ...base, district: v.district || undefined, group_by: level, limit: MAX_PAGE })}`),
      facilities,
    ]);
    return { coverage, gaps, rollup, facilities: facs, delta, level };
  }

  draw(v, d, zoom) {
    const cat = this.category();
    const gaps = d.gaps.filter((g) => this.inView(g.community_id));
    const gapIds = new Set(gaps.map((g) => g.community_id));
    const colour = categoryColour(cat.key, this.categories.indexOf(cat));
    const shares = new Map(
      d.coverage.features.filter((f) => f.properties.kind === "community").map((f) => [f.properties.community_id, f.properties]),
    );
    this.map.setCoverage(d.coverage, {
      gapIds,
      inView: (id) => this.inView(id),
      info: (id) => this.communities.get(id),
      onClick: () => {},
    });
    this.scenarios.drawFacilities(d.facilities, colour);
    const scenarioName = this.scenarios.name(v.scenario);
    const reach = this.reach(v.minutes);
    this.map.setLegend({ colour, minutes: v.minutes, reach, categoryName: cat.name_zh, weighting: d.rollup.weighting, scenario: !!v.scenario });
    const rows = v.street ? d.rollup.items.filter((r) => r.group === v.street) : d.rollup.items;
    const people = d.rollup.weight_kind !== "area";
    const estimates = people ? null : this.estimates(shares, d.level);
    const totals = summarise(rows, gaps, people, estimates, v);
    const where = [v.district || "全部区 all districts", v.street].filter(Boolean).join(" · ");
    $("#headline").innerHTML = headlineHtml({ category: cat, minutes: v.minutes, reach, totals, scenarioName, delta: d.delta, where });
    const byDistrict = d.delta && d.level === "district" ? new Map((d.delta.by_district || []).map((r) => [r.district, r])) : null;
    $("#district-title").textContent = d.level === "street" ? `分街道统计 By 街道 (${v.district})` : "分区统计 By district";
    $("#district-table").innerHTML = districtTableHtml(rows, { level: d.level, people, estimates, byDistrict });
    $("#gap-list-count").textContent = `(${gaps.length})`;
    this.gapTable.set(gaps, people);
    this.data = { view: v, gaps, rows, totals, delta: d.delta };
    if (zoom) this.map.zoomToCommunities([...this.communities.keys()].filter((id) => this.inView(id) && (v.district || v.street)));
  }

  /** Residents (census-spread ESTIMATE) covered and in total per district / 街道 of the view. */
  estimates(shares, level) {
    const out = new Map();
    let any = false;
    for (const [id, c] of this.communities) {
      const p = shares.get(id);
      if (!p || !p.applies || c.residents_estimate === null || !this.inView(id)) continue;
      const group = (level === "street" ? c.street : c.district) || "（未知 unknown）";
      const e = out.get(group) || { covered: 0, total: 0 };
      e.total += c.residents_estimate;
      e.covered += c.residents_estimate * (p.covered_share ?? 0);
      out.set(group, e);
      any = true;
    }
    return any ? out : null;
  }
}

function ownMinutes(cat) {
  const t = cat.thresholds_min?.urban ?? cat.level_min ?? 15;
  return [5, 10, 15].reduce((best, m) => (Math.abs(m - t) < Math.abs(best - t) ? m : best), 15);
}

/** Every coverage gap of a query (pages of MAX_PAGE). */
async function allGaps(params) {
  const items = [];
  for (let offset = 0; ; offset += MAX_PAGE) {
    const page = await getJson(`/gaps${qs({ ...params, limit: MAX_PAGE, offset })}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

function summarise(rows, gaps, people, estimates, v) {
  const total = rows.reduce((s, r) => s + (r.total_weight || 0), 0);
  const covered = rows.reduce((s, r) => s + (r.covered_weight || 0), 0);
  let estimate = null;
  if (estimates) {
    estimate = 0;
    for (const [group, e] of estimates) if (!v.street || group === v.street) estimate += e.total - e.covered;
  }
  return { people, gaps: gaps.length, coveredShare: total > 0 ? covered / total : null, uncovered: total - covered, estimate };
}

function fromFacility(f) {
  return { id: f.facility_id, name: f.name, category: f.category, source: f.source, status: "baseline", lon: f.lon, lat: f.lat };
}

function fromFeatures(fc) {
  return fc.features.map((f) => ({
    id: f.properties.id,
    name: f.properties.name,
    category: f.properties.category,
    source: f.properties.source,
    status: f.properties.status,
    lon: f.geometry.coordinates[0],
    lat: f.geometry.coordinates[1],
  }));
}

/** Ask the user for a write token (the dialog); resolves with it, or null when cancelled. */
function askToken(reason) {
  const dlg = $("#token-dialog");
  $("#token-reason").textContent = reason || "";
  $("#token-input").value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      $("#token-ok").onclick = null;
      $("#token-cancel").onclick = null;
      dlg.close();
      resolve(value);
    };
    $("#token-ok").onclick = (ev) => {
      ev.preventDefault();
      done($("#token-input").value.trim() || null);
    };
    $("#token-cancel").onclick = () => done(null);
    dlg.showModal();
  });
}

const app = new App();
globalThis.circlesApp = app;
app.start().catch((e) => {
  showError(e);
  document.body.classList.remove("loading");
  document.body.classList.add("failed");
});
