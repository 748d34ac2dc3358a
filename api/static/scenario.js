// Scenarios: named sets of proposed additions, moves and removals on top of the baseline register
// (the register itself never changes). Create / choose one, click the map to propose a facility of the
// current category (or accept a suggested site), drag a proposed one, remove any, undo, compare, export.

import { download, getJson, getToken, qs, write } from "./api.js";
import { facilityPopupHtml } from "./map.js";
import { compareHtml } from "./panel.js";
import { esc, num } from "./style.js";
import { showError } from "./ui.js";

const $ = (sel) => document.querySelector(sel);

export class ScenarioPanel {
  constructor(app) {
    this.app = app;
    this.items = []; // Scenario objects of GET /scenarios
    this.current = null; // the chosen Scenario (with its changes)
    this.available = true;
    this.addMode = false;
    $("#scenario").addEventListener("change", () => this.choose($("#scenario").value));
    $("#new-scenario-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.create($("#new-scenario-name").value.trim());
    });
    $("#add-mode").addEventListener("click", () => this.setAddMode(!this.addMode));
    $("#suggest").addEventListener("click", () => this.suggest());
    $("#undo").addEventListener("click", () => this.undo());
    $("#compare").addEventListener("click", () => this.compare());
    for (const a of [$("#export-gpkg"), $("#export-xlsx")]) {
      a.addEventListener("click", (ev) => {
        ev.preventDefault();
        this.export(a.dataset.format);
      });
    }
    $("#delete-scenario").addEventListener("click", (ev) => {
      ev.preventDefault();
      this.remove();
    });
    app.map.map.on("click", (e) => {
      if (this.addMode && this.current) this.propose(e.latlng.lng, e.latlng.lat, "");
    });
  }

  /** The scenario list (none when the service has no scenarios). */
  async load() {
    try {
      const body = await getJson("/scenarios");
      this.items = body.items || [];
      this.available = true;
    } catch (e) {
      this.items = [];
      this.available = false;
      $("#scenario-box").classList.add("unavailable");
      this.status(`情景不可用 scenarios unavailable (${e.status || e.message})`);
    }
    this.fillSelects();
    if (this.available && this.app.config.write_needs_token && !getToken()) {
      this.status("此服务的编辑需要写入令牌，首次编辑时会询问 edits here need a write token: you will be asked for it");
    }
  }

  fillSelects() {
    const chosen = this.current?.id || "";
    const opts = this.items.map((s) => `<option value="${esc(s.id)}">${esc(s.name)}</option>`).join("");
    $("#scenario").innerHTML = `<option value="">现状 baseline</option>${opts}`;
    $("#scenario").value = chosen;
    const cmp = `<option value="baseline">现状 baseline</option>${opts}`;
    const a = $("#compare-a").value;
    const b = $("#compare-b").value;
    $("#compare-a").innerHTML = cmp;
    $("#compare-b").innerHTML = cmp;
    $("#compare-a").value = a && [...$("#compare-a").options].some((o) => o.value === a) ? a : "baseline";
    $("#compare-b").value = b && [...$("#compare-b").options].some((o) => o.value === b) ? b : chosen || this.items[0]?.id || "baseline";
    $("#scenario-tools").hidden = !this.current;
    $("#compare-box").hidden = !this.available;
  }

  name(id) {
    return id ? this.items.find((s) => s.id === id)?.name || id : "";
  }

  status(text) {
    $("#scenario-status").textContent = text;
  }

  choose(id) {
    return this.app.track(() => this._choose(id));
  }

  async _choose(id) {
    this.current = id ? await getJson(`/scenarios/${encodeURIComponent(id)}`) : null;
    this.app.view.scenario = id || "";
    if (!id) this.setAddMode(false);
    this.fillSelects();
    this.showChanges();
    await this.app.refresh();
  }

  create(name) {
    return this.app.track(() => this._create(name));
  }

  async _create(name) {
    if (!name) return;
    const s = await this.run(() => write("POST", "/scenarios", { name, description: "" }));
    if (!s) return;
    $("#new-scenario-name").value = "";
    this.items.push(s);
    this.current = s;
    this.fillSelects();
    await this.choose(s.id);
    this.status(`已新建 created “${s.name}”`);
  }

  remove() {
    return this.app.track(() => this._remove());
  }

  async _remove() {
    if (!this.current || !confirm(`删除情景 delete scenario “${this.current.name}”?`)) return;
    const id = this.current.id;
    if ((await this.run(() => write("DELETE", `/scenarios/${encodeURIComponent(id)}`))) === undefined) return;
    this.items = this.items.filter((s) => s.id !== id);
    await this.choose("");
  }

  setAddMode(on) {
    this.addMode = !!on && !!this.current;
    $("#add-mode").setAttribute("aria-pressed", String(this.addMode));
    $("#add-mode").classList.toggle("on", this.addMode);
    this.app.map.map.getContainer().classList.toggle("adding", this.addMode);
  }

  /** Send one change (add / move / remove) and redraw. */
  change(body) {
    return this.app.track(() => this._change(body));
  }

  async _change(body) {
    const id = this.current.id;
    const t0 = performance.now();
    const done = await this.run(() => write("POST", `/scenarios/${encodeURIComponent(id)}/facilities`, body));
    if (!done) return;
    await this.reload();
    await this.app.refresh();
    this.status(`${actionText(done.action)} ${done.facility_id} · ${Math.round(performance.now() - t0)} ms`);
  }

  propose(lon, lat, name) {
    return this.change({ action: "add", category: this.app.view.category, lon: round7(lon), lat: round7(lat), name: name || "" });
  }

  undo() {
    return this.app.track(() => this._undo());
  }

  async _undo() {
    const last = this.current?.changes?.[this.current.changes.length - 1];
    if (!last) {
      this.status("没有可撤销的修改 nothing to undo");
      return;
    }
    const id = this.current.id;
    const path = `/scenarios/${encodeURIComponent(id)}/facilities/${last.change_id}`;
    if ((await this.run(() => write("DELETE", path))) === undefined) return;
    await this.reload();
    await this.app.refresh();
    this.status(`已撤销 undone: ${actionText(last.action)} ${last.facility_id}`);
  }

  async reload() {
    this.current = await getJson(`/scenarios/${encodeURIComponent(this.current.id)}`);
    const i = this.items.findIndex((s) => s.id === this.current.id);
    if (i >= 0) this.items[i] = this.current;
    this.showChanges();
  }

  showChanges() {
    const n = this.current?.changes?.length || 0;
    $("#changes-count").textContent = this.current ? `${n} 项修改 changes` : "";
  }

  delta(v) {
    return getJson(
      `/scenarios/${encodeURIComponent(v.scenario)}/delta${qs({ category: v.category, minutes: v.minutes, district: v.district || undefined })}`,
    );
  }

  /** Markers of the view's facilities; in a scenario, popups offer removal and proposed ones drag. */
  drawFacilities(items, colour) {
    this.app.map.setFacilities(items, colour, {
      draggable: !!this.current,
      onPopup: (f, kind) => this.facilityPopup(f, kind),
      onDragEnd: (f, latlng) => this.change({ action: "move", facility_id: f.id, lon: round7(latlng.lng), lat: round7(latlng.lat) }),
    });
  }

  facilityPopup(f, kind) {
    const div = document.createElement("div");
    div.innerHTML = facilityPopupHtml(f, kind);
    if (this.current && f.status !== "removed") {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "remove-facility";
      btn.textContent = "情景中移除 Remove in scenario";
      btn.addEventListener("click", () => {
        this.app.map.map.closePopup();
        this.change({ action: "remove", facility_id: f.id });
      });
      div.append(document.createElement("br"), btn);
    }
    return div;
  }

  /** Up to 5 sites suggested by /sites for the current category (under the scenario). */
  suggest() {
    return this.app.track(() => this._suggest());
  }

  async _suggest() {
    const v = this.app.view;
    this.status("正在选址 searching sites…");
    const body = await this.run(() => getJson(`/sites${qs({ category: v.category, k: 5, scenario: v.scenario || undefined })}`));
    if (!body) return;
    this.app.map.setSites(body.sites || [], (s) => this.sitePopup(s));
    this.status(`${(body.sites || []).length} 个建议选址 suggested sites (${body.method || ""})`);
  }

  sitePopup(s) {
    const div = document.createElement("div");
    div.innerHTML =
      `<b>#${s.rank} ${esc(s.name || s.kind_zh || s.kind || "site")}</b><br>` +
      `新覆盖 newly covers ${num(s.added_residents ?? s.added_weight)}${s.added_residents === null ? " m²" : " residents"}` +
      (s.n_closed ? `<br>消除缺口 closes ${s.n_closed}: ${esc(s.closes_gaps || "")}` : "");
    if (this.current) {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "accept-site";
      btn.textContent = "采纳 Accept into scenario";
      btn.addEventListener("click", () => {
        this.app.map.map.closePopup();
        this.app.map.sites.clearLayers();
        this.propose(s.lon, s.lat, s.name || `${s.kind_zh || "site"} #${s.rank}`);
      });
      div.append(document.createElement("br"), btn);
    }
    return div;
  }

  compare() {
    return this.app.track(() => this._compare());
  }

  async _compare() {
    const a = $("#compare-a").value;
    const b = $("#compare-b").value;
    const v = this.app.view;
    const body = await this.run(() => getJson(`/scenarios/compare${qs({ a, b, category: v.category, minutes: v.minutes })}`));
    if (!body) return;
    const label = (id) => (id === "baseline" ? "现状 baseline" : this.name(id));
    $("#compare-result").innerHTML = compareHtml(body, { a: label(a), b: label(b) });
  }

  async export(format) {
    if (!this.current) return;
    await this.run(() => download(`/scenarios/${encodeURIComponent(this.current.id)}/export${qs({ format })}`));
  }

  /** Run ``fn``, showing an error instead of throwing (undefined on failure). */
  async run(fn) {
    try {
      const out = await fn();
      return out === null ? {} : out;
    } catch (e) {
      showError(e);
      return undefined;
    }
  }
}

function actionText(action) {
  return { add: "已新增 added", move: "已移动 moved", remove: "已移除 removed" }[action] || action;
}

function round7(x) {
  return Math.round(x * 1e7) / 1e7;
}
