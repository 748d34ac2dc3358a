// Small page helpers shared by the workbench's modules.

import { ApiError } from "./api.js";

let errorTimer = null;

/** Show an error in the page's alert box for a few seconds. */
export function showError(e) {
  const box = document.querySelector("#error");
  const text = e instanceof ApiError ? `${e.status}: ${e.message}` : String(e?.message || e);
  box.textContent = text;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (box.hidden = true), 8000);
}
