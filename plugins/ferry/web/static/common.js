// Shared by the pages: the API under this app's prefix, formatting, the message line.
"use strict";
const ferry = (() => {
  const root = document.body.dataset.root || "";

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(`${root}/api${path}`, init);
    const data = response.headers.get("content-type")?.includes("json") ? await response.json() : {};
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? response.statusText);
      throw new Error(`${response.status}: ${detail}`);
    }
    return data;
  }

  function say(text, isError = false) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.classList.toggle("error", isError);
  }

  function when(iso) {
    if (!iso) return "";
    if (iso === "after refresh") return iso;
    const moment = new Date(iso);
    return Number.isNaN(moment.getTime()) ? iso : moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function seconds(value) {
    if (value === null || value === undefined) return "";
    return value < 60 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
  }

  function number(value) {
    return value === null || value === undefined ? "" : Number(value).toLocaleString("en-US");
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "class") node.className = value;
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function badge(text) {
    return el("span", { class: `badge ${text}` }, text);
  }

  // Resolves true when the user confirms in #confirm.
  function confirmed(text) {
    const dialog = document.getElementById("confirm");
    dialog.querySelector(".text").textContent = text;
    return new Promise((resolve) => {
      dialog.onclose = () => resolve(dialog.returnValue === "yes");
      dialog.showModal();
    });
  }

  function editNote(result) {
    return result.git ? `\n${result.git}` : "";
  }

  return { root, api, say, when, seconds, number, el, badge, confirmed, editNote };
})();

// Cancel closes its dialog without submitting (Enter in a field submits: the Confirm button).
document.querySelectorAll("button[data-confirm=no]").forEach((button) => {
  button.addEventListener("click", () => button.closest("dialog").close("no"));
});
