// Talking to the service: reads are open; writes go without a token to a loopback service, and with
// "Authorization: Bearer <token>" when the service has write tokens (api/access.py). The token is asked
// for on the first 401 (or up front when /app/config says so) and kept in sessionStorage only.

const TOKEN_KEY = "circles.writeToken";

export class ApiError extends Error {
  constructor(status, detail, url) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.url = url;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the token lives for this page only */
  }
}

/** A fresh Idempotency-Key (a retry of the same write then changes nothing). */
export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return `k${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

/** Resolves with a token the user types (set by the page: shows the token dialog). */
let askToken = async () => null;
export function onTokenNeeded(fn) {
  askToken = fn;
}

async function detailOf(resp) {
  try {
    const body = await resp.json();
    return body.detail ?? body;
  } catch {
    return resp.statusText;
  }
}

/** GET ``url`` as JSON. */
export async function getJson(url, { signal } = {}) {
  const resp = await fetch(url, { signal, headers: { Accept: "application/json" } });
  if (!resp.ok) throw new ApiError(resp.status, await detailOf(resp), url);
  return resp.json();
}

/** A request that may need write access: on 401 (or 403 with a token) asks for a token and retries. */
export async function write(method, url, body, { raw = false } = {}) {
  const key = newKey();
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = { Accept: "application/json" };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (method === "POST") headers["Idempotency-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401 || (resp.status === 403 && token)) {
      const detail = await detailOf(resp);
      if (resp.status === 403) setToken("");
      const typed = await askToken(String(detail));
      if (!typed) throw new ApiError(resp.status, detail, url);
      setToken(typed);
      continue;
    }
    if (!resp.ok) throw new ApiError(resp.status, await detailOf(resp), url);
    return raw ? resp : resp.status === 204 ? null : resp.json();
  }
  throw new ApiError(403, "no valid write token", url);
}

/** Query string of the defined values of ``params``. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** Download a file that may need write access (exports): fetched with the token, saved as a blob. */
export async function download(url) {
  const resp = await write("GET", url, undefined, { raw: true });
  const blob = await resp.blob();
  const disp = resp.headers.get("Content-Disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disp);
  const name = m ? decodeURIComponent(m[1]) : url.split("/").pop().split("?")[0];
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
  return name;
}
