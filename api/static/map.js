// The map: an offline base (streets, named main roads, district lines from /app/context; no tiles), the
// service area, communities shaded by covered share, facility markers, suggested sites, legend, scale
// bar and north arrow. Leaflet (vendored) is the global ``L``.

import {
  AREA_STYLE,
  GAP_OUTLINE,
  MARKER_KINDS,
  MARKER_SIZE,
  NA_COLOUR,
  OK_OUTLINE,
  esc,
  legendHtml,
  markerKind,
  markerSvg,
  num,
  pct,
  shareColour,
} from "./style.js";

const L = globalThis.L;

export class WorkMap {
  constructor(element, bbox, attribution) {
    this.map = L.map(element, { zoomControl: true, preferCanvas: false, zoomSnap: 0.25, attributionControl: true });
    this.map.attributionControl.setPrefix(false);
    this.map.attributionControl.addAttribution(esc(attribution));
    for (const [name, z] of [["context", 200], ["area", 300], ["communities", 400], ["facilities", 650], ["sites", 660]]) {
      this.map.createPane(name).style.zIndex = String(z);
    }
    this.map.getPane("area").style.pointerEvents = "none";
    this.bbox = bbox;
    this.fitRegion();
    this.communityLayers = new Map(); // community_id -> polygon layer
    this.area = null;
    this.communities = null;
    this.facilities = L.layerGroup().addTo(this.map);
    this.sites = L.layerGroup().addTo(this.map);
    this.scale = L.control.scale({ metric: true, imperial: false, maxWidth: 160, position: "bottomright" }).addTo(this.map);
    this.scale.getContainer().insertAdjacentHTML("afterbegin", '<span class="scale-title">比例尺 Scale</span>');
    this.north = northArrow().addTo(this.map);
    this.legend = L.control({ position: "bottomleft" });
    this.legend.onAdd = () => L.DomUtil.create("div", "legend");
    this.legend.addTo(this.map);
    L.DomEvent.disableClickPropagation(this.legend.getContainer());
    L.DomEvent.disableScrollPropagation(this.legend.getContainer());
  }

  fitRegion() {
    const [w, s, e, n] = this.bbox;
    this.map.fitBounds([[s, w], [n, e]], { animate: false });
  }

  /** The offline base: all streets thin grey, named main roads with labels from zoom 15, district lines. */
  setContext(fc) {
    const roads = L.layerGroup();
    const base = L.geoJSON(fc, {
      pane: "context",
      interactive: false,
      filter: (f) => f.properties.kind !== "road",
      style: (f) =>
        f.properties.kind === "district"
          ? { color: "#616161", weight: 1.6, dashArray: "6 4", opacity: 0.9, fill: false }
          : { color: "#b8b8b8", weight: 1, opacity: 0.95 },
      pointToLayer: (f, latlng) =>
        L.marker(latlng, {
          pane: "context",
          interactive: false,
          icon: L.divIcon({ className: "district-label", html: `<span>${esc(f.properties.name)}</span>`, iconSize: null }),
        }),
    }).addTo(this.map);
    L.geoJSON(fc, {
      pane: "context",
      filter: (f) => f.properties.kind === "road",
      style: (f) => ({ color: "#8d8d8d", weight: ["primary", "trunk", "motorway"].includes(f.properties.highway) ? 2.6 : 1.8, opacity: 0.9 }),
      onEachFeature: (f, layer) => {
        layer.bindTooltip(esc(f.properties.name), { permanent: true, direction: "center", className: "road-label", interactive: false });
        roads.addLayer(layer);
      },
    });
    roads.addTo(this.map);
    const showLabels = () => {
      const z = this.map.getZoom();
      this.map.getContainer().classList.toggle("hide-road-labels", z < 15);
      this.map.getContainer().classList.toggle("hide-minor-labels", z < 16);
    };
    this.map.on("zoomend", showLabels);
    showLabels();
    this.base = base;
  }

  setLegend(options) {
    const box = this.legend.getContainer();
    box.innerHTML = legendHtml(options);
    const title = box.querySelector("h3");
    title.title = "点击折叠/展开 click to fold / unfold";
    title.addEventListener("click", () => box.classList.toggle("folded"));
  }

  /** The service area and the communities of a /coverage FeatureCollection. */
  setCoverage(fc, { gapIds, inView, info, onClick }) {
    if (this.area) this.area.remove();
    if (this.communities) this.communities.remove();
    this.communityLayers.clear();
    const areaFeatures = fc.features.filter((f) => f.properties.kind === "service_area");
    const commFeatures = fc.features.filter((f) => f.properties.kind === "community");
    this.area = L.geoJSON(areaFeatures, { pane: "area", interactive: false, style: () => AREA_STYLE }).addTo(this.map);
    this.communities = L.geoJSON(commFeatures, {
      pane: "communities",
      style: (f) => {
        const p = f.properties;
        const gap = gapIds.has(p.community_id);
        const shown = inView(p.community_id);
        return {
          fillColor: p.applies ? shareColour(p.covered_share) : NA_COLOUR,
          fillOpacity: shown ? 0.78 : 0.12,
          opacity: shown ? 1 : 0.25,
          ...(gap ? GAP_OUTLINE : OK_OUTLINE),
        };
      },
      onEachFeature: (f, layer) => {
        const p = f.properties;
        this.communityLayers.set(p.community_id, layer);
        layer.bindTooltip(() => communityTip(p, info(p.community_id), gapIds.has(p.community_id)), { sticky: true });
        layer.on("click", (e) => onClick(e, p));
      },
    }).addTo(this.map);
  }

  /** Facilities: [{id, name, category, source, status, lon, lat}] as markers of their kind. */
  setFacilities(items, colour, { draggable, onPopup, onDragEnd }) {
    this.facilities.clearLayers();
    for (const f of items) {
      const kind = markerKind(f.source, f.status);
      const marker = L.marker([f.lat, f.lon], {
        pane: "facilities",
        icon: icon(kind, colour),
        draggable: draggable && kind === "proposed",
        title: f.name || f.id,
        keyboard: false,
        riseOnHover: true,
      });
      marker.feature = f;
      marker.bindPopup(() => onPopup(f, kind), { maxWidth: 320 });
      if (draggable && kind === "proposed") marker.on("dragend", () => onDragEnd(f, marker.getLatLng()));
      this.facilities.addLayer(marker);
    }
  }

  setSites(sites, onPopup) {
    this.sites.clearLayers();
    sites.forEach((s) => {
      const marker = L.marker([s.lat, s.lon], { pane: "sites", icon: icon("site", "#ff7f00", String(s.rank)), title: `site ${s.rank}` });
      marker.bindPopup(() => onPopup(s), { maxWidth: 320 });
      this.sites.addLayer(marker);
    });
  }

  zoomToCommunity(id) {
    const layer = this.communityLayers.get(id);
    if (!layer) return false;
    this.map.fitBounds(layer.getBounds(), { maxZoom: 17, padding: [40, 40] });
    layer.openTooltip(layer.getBounds().getCenter());
    return true;
  }

  /** Fit the communities whose ids are given (a district / 街道 filter). */
  zoomToCommunities(ids) {
    let bounds = null;
    for (const id of ids) {
      const layer = this.communityLayers.get(id);
      if (!layer) continue;
      bounds = bounds ? bounds.extend(layer.getBounds()) : L.latLngBounds(layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast());
    }
    if (bounds) this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: false });
    else this.fitRegion();
  }
}

function icon(kind, colour, label = "") {
  return L.divIcon({
    className: `fac-icon fac-${kind}`,
    html: markerSvg(kind, colour, label),
    iconSize: [MARKER_SIZE, MARKER_SIZE],
    iconAnchor: [MARKER_SIZE / 2, MARKER_SIZE / 2],
    popupAnchor: [0, -MARKER_SIZE / 2],
  });
}

function communityTip(p, info, gap) {
  const res = info?.residents ?? null;
  const est = info?.residents_estimate ?? null;
  const people =
    res !== null
      ? `居民 residents ${num(res)}`
      : est !== null
        ? `居民 ≈ ${num(est)} (估算 ESTIMATE)`
        : "居民 residents unknown";
  const where = [info?.district, info?.street, info?.community].filter(Boolean).map(esc).join(" · ");
  return (
    `<b>${esc(p.name)}</b>${where ? `<br>${where}` : ""}` +
    `<br>覆盖 covered ${p.applies ? pct(p.covered_share) : "不适用 n/a"}${gap ? " · <b>未达标 gap</b>" : ""}` +
    `<br>${people}${info?.area_m2 ? ` · ${num(info.area_m2)} m²` : ""}`
  );
}

export function facilityPopupHtml(f, kind) {
  return (
    `<b>${esc(f.name || "(未命名 unnamed)")}</b><br><span class="muted">${esc(f.id)}</span>` +
    `<br>${esc(MARKER_KINDS[kind].zh)} · ${esc(MARKER_KINDS[kind].en)}`
  );
}

function northArrow() {
  const ctl = L.control({ position: "topright" });
  ctl.onAdd = () => {
    const div = L.DomUtil.create("div", "north-arrow");
    div.title = "North";
    div.innerHTML =
      '<svg width="34" height="46" viewBox="0 0 34 46" aria-label="north arrow"><path d="M17 4 L27 34 L17 28 L7 34 Z" fill="#1a1a1a"/>' +
      '<path d="M17 4 L17 28 L7 34 Z" fill="#ffffff" stroke="#1a1a1a" stroke-width="1"/>' +
      '<text x="17" y="45" text-anchor="middle" font-size="11" font-weight="bold">N 北</text></svg>';
    return div;
  };
  return ctl;
}
