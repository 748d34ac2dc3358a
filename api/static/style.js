// How the workbench draws things. The legend is drawn from these same definitions (markerSvg,
// SHARE_CLASSES, AREA_STYLE), so a marker and its legend entry cannot diverge.

/** Covered-share classes: [upper bound (exclusive), fill colour, label]. Red = lacking, green = covered. */
export const SHARE_CLASSES = [
  [0.005, "#a50026", "0%"],
  [0.25, "#f46d43", "1–25%"],
  [0.5, "#fdae61", "25–50%"],
  [0.75, "#fee08b", "50–75%"],
  [0.95, "#a6d96a", "75–95%"],
  [1.01, "#1a9850", "≥ 95%"],
];
/** Fill of communities the category does not apply to (or of unknown share). */
export const NA_COLOUR = "#bdbdbd";
/** Outline of a community short of its target (a gap) and of one that meets it. */
export const GAP_OUTLINE = { color: "#1a1a1a", weight: 2.2 };
export const OK_OUTLINE = { color: "#ffffff", weight: 0.8 };
/** The category's service area within the chosen minutes. */
export const AREA_STYLE = { color: "#2171b5", weight: 1.4, fillColor: "#6baed6", fillOpacity: 0.22, opacity: 0.9 };
/** Colour of proposed (scenario) facilities and suggested sites. */
export const PROPOSED_COLOUR = "#ff7f00";

/** Facility marker colour by category (others take PALETTE colours in turn). */
const CATEGORY_COLOURS = {
  party_service_station: "#6a3d9a",
  party_service_centre: "#1f4e9c",
  community_complex: "#8c510a",
  canteen: "#111111",
  labourer_harbour: "#c51b7d",
  park: "#00665e",
  elderly_care: "#7b3294",
  kindergarten: "#e7298a",
  primary_school: "#3f007d",
  food_market: "#a6611a",
  clinic: "#0571b0",
  public_toilet: "#525252",
};
const PALETTE = ["#6a3d9a", "#1f4e9c", "#8c510a", "#c51b7d", "#00665e", "#7b3294", "#3f007d", "#0571b0"];

export function categoryColour(key, i = 0) {
  return CATEGORY_COLOURS[key] || PALETTE[i % PALETTE.length];
}

export function shareColour(share) {
  if (share === null || share === undefined || !Number.isFinite(share)) return NA_COLOUR;
  for (const [upper, colour] of SHARE_CLASSES) if (share < upper) return colour;
  return SHARE_CLASSES[SHARE_CLASSES.length - 1][1];
}

/** Marker kinds: how a facility is drawn, by its source and its status in a scenario. */
export const MARKER_KINDS = {
  osm: { zh: "实心圆 = OSM 观测", en: "filled circle: observed (OSM)" },
  sample: { zh: "空心虚线圆 = 示例数据", en: "hollow dashed circle: SAMPLE, not observed" },
  user: { zh: "实心方块 = 用户数据", en: "filled square: user-supplied" },
  proposed: { zh: "橙色菱形 = 情景新增", en: "orange diamond: proposed (scenario)" },
  moved: { zh: "橙色外环 = 情景移动", en: "orange ring: moved (scenario)" },
  removed: { zh: "灰色叉 = 情景移除", en: "grey cross: removed (scenario)" },
  site: { zh: "橙色空心圆 = 建议选址", en: "hollow orange circle: suggested site" },
};
export const MARKER_SIZE = 18;

/** The marker kind of a facility: its scenario status when proposed/moved/removed, else its source. */
export function markerKind(source, status) {
  if (status === "proposed" || source === "proposed") return "proposed";
  if (status === "removed") return "removed";
  if (status === "moved") return "moved";
  return source === "sample" || source === "user" ? source : "osm";
}

/** The SVG of a marker of ``kind`` in ``colour`` (MARKER_SIZE px square); used by map and legend. */
export function markerSvg(kind, colour, label = "") {
  const s = MARKER_SIZE;
  const c = s / 2;
  let body;
  switch (kind) {
    case "sample":
      body = `<circle cx="${c}" cy="${c}" r="6.2" fill="#ffffff" stroke="${colour}" stroke-width="2.4" stroke-dasharray="3 2.2"/>`;
      break;
    case "user":
      body = `<rect x="3.5" y="3.5" width="11" height="11" fill="${colour}" stroke="#ffffff" stroke-width="1.4"/>`;
      break;
    case "proposed":
      body = `<path d="M${c} 1 L${s - 1} ${c} L${c} ${s - 1} L1 ${c} Z" fill="${PROPOSED_COLOUR}" stroke="#1a1a1a" stroke-width="1.4"/>`;
      break;
    case "moved":
      body =
        `<circle cx="${c}" cy="${c}" r="7.6" fill="none" stroke="${PROPOSED_COLOUR}" stroke-width="2.4"/>` +
        `<circle cx="${c}" cy="${c}" r="4.4" fill="${colour}"/>`;
      break;
    case "removed":
      body =
        `<circle cx="${c}" cy="${c}" r="6" fill="#ffffff" stroke="#9e9e9e" stroke-width="1.4"/>` +
        `<path d="M5 5 L13 13 M13 5 L5 13" stroke="#616161" stroke-width="2"/>`;
      break;
    case "site":
      body = `<circle cx="${c}" cy="${c}" r="7" fill="#ffffff" fill-opacity="0.85" stroke="${PROPOSED_COLOUR}" stroke-width="2.6"/>`;
      break;
    default: // osm: observed
      body = `<circle cx="${c}" cy="${c}" r="6.2" fill="${colour}" stroke="#ffffff" stroke-width="1.4"/>`;
  }
  const text = label
    ? `<text x="${c}" y="${c + 3.5}" text-anchor="middle" font-size="9" font-weight="bold" fill="#1a1a1a">${label}</text>`
    : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}" viewBox="0 0 ${s} ${s}" class="marker-${kind}">${body}${text}</svg>`;
}

/** Text safe inside HTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

export function pct(share) {
  return share === null || share === undefined || !Number.isFinite(share) ? "—" : `${Math.round(100 * share)}%`;
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A signed number ("+1,234", "−56", "0"). */
export function signed(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = num(Math.abs(value), digits);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

/** The legend's HTML for the current view (category colour, minutes or a distance service's reach
 * such as "500 m", weighting). */
export function legendHtml({ colour, minutes, reach, categoryName, weighting, scenario }) {
  const shares = SHARE_CLASSES.map(
    ([, fill, label]) => `<div class="row"><span class="sw" style="background:${fill}"></span>${esc(label)}</div>`,
  ).join("");
  const kinds = ["osm", "sample", "user"].concat(scenario ? ["proposed", "moved", "removed"] : []);
  const markers = kinds
    .map((k) => `<div class="row"><span class="mk">${markerSvg(k, colour)}</span>${esc(MARKER_KINDS[k].zh)} <span class="en">${esc(MARKER_KINDS[k].en)}</span></div>`)
    .join("");
  return (
    `<h3>图例 Legend</h3>` +
    `<div class="row"><span class="sw" style="background:${AREA_STYLE.fillColor};border:1.5px solid ${AREA_STYLE.color};opacity:.85"></span>` +
    (reach
      ? `${esc(categoryName)} 步行${esc(reach)}服务范围 service area (${esc(reach)} walk)</div>`
      : `${esc(categoryName)} ${esc(minutes)} 分钟服务范围 service area (${esc(minutes)} min)</div>`) +
    `<div class="sub">社区覆盖比例 covered share of communities</div>${shares}` +
    `<div class="row"><span class="sw" style="background:${NA_COLOUR}"></span>不适用 not applicable</div>` +
    `<div class="row"><span class="sw" style="background:#fff;border:${GAP_OUTLINE.weight}px solid ${GAP_OUTLINE.color}"></span>黑框 = 未达标 gap (short of target)</div>` +
    `<div class="sub">设施 facilities</div>${markers}` +
    `<div class="row"><span class="sw line"></span>区界 district boundary</div>` +
    (weighting ? `<div class="weighting">${esc(weighting)}</div>` : "")
  );
}
