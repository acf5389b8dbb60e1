// The Exports list: sort by any column, search, filter, select, act.
"use strict";
(() => {
  const { api, say, when, seconds, number, el, badge } = ferry;
  const table = document.getElementById("exports");
  const body = table.querySelector("tbody");
  const state = { exports: [], sort: "name", descending: false, selected: new Set(), pollUntil: 0 };
  const KIND_NAMES = { data_out: "data-out", segment: "segment", report: "report" };

  // What each column sorts by (text, or a number where there is one).
  const SORT_VALUES = {
    connections: (e) => e.connections.join(", "),
    last_run: (e) => e.last_run?.finished_at ?? "",
    rows: (e) => e.last_run?.rows ?? -1,
  };
  const sortValue = (e, column) => (SORT_VALUES[column] ? SORT_VALUES[column](e) : e[column] ?? "");

  function compare(a, b) {
    const x = sortValue(a, state.sort);
    const y = sortValue(b, state.sort);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return state.descending ? -order : order;
  }

  function matches(e) {
    const text = document.getElementById("search").value.trim().toLowerCase();
    const status = document.getElementById("filter-status").value;
    const kind = document.getElementById("filter-kind").value;
    const owner = document.getElementById("filter-owner").value;
    if (status && e.status !== status) return false;
    if (kind && e.kind !== kind) return false;
    if (owner && e.owner !== owner) return false;
    if (!text) return true;
    const haystack = [e.id, e.name, e.kind, e.target, e.status, e.owner, e.schedule_text, ...e.connections];
    return haystack.some((value) => String(value ?? "").toLowerCase().includes(text));
  }

  function lastRunCell(e) {
    if (e.running.length) return [badge("running")];
    const last = e.last_run;
    if (!last) return [el("span", { class: "muted" }, "never")];
    return [
      el("a", { href: `${ferry.root}/runs/${encodeURIComponent(last.job_run_id)}` }, when(last.finished_at)),
      " ", badge(last.outcome), " ", el("span", { class: "muted" }, seconds(last.duration_s)),
    ];
  }

  function row(e) {
    const link = `${ferry.root}/exports/${encodeURIComponent(e.id)}`;
    const cells = {
      name: [el("a", { href: link, title: e.id }, e.name), el("div", { class: "muted" }, e.id)],
      kind: [KIND_NAMES[e.kind] ?? e.kind, e.changes_only ? el("div", { class: "muted changes-only" }, "changes only") : null],
      connections: e.connections.join(", "),
      target: e.target ?? "",
      status: [badge(e.status), e.status_detail ? el("div", { class: "muted" }, e.status_detail) : null],
      owner: e.owner,
      schedule_text: e.schedule_text,
      next_run: when(e.next_run),
      last_run: lastRunCell(e),
      rows: number(e.last_run?.rows),
      refreshed_at: when(e.refreshed_at),
      permissions: el("a", { href: link }, e.permissions === "edit" ? "Edit" : "View"),
    };
    const box = el("input", { type: "checkbox", class: "select", dataset: { exportId: e.id },
      checked: state.selected.has(e.id), "aria-label": `Select ${e.name}` });
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(e.id); else state.selected.delete(e.id);
      updateButtons();
    });
    const tr = el("tr", { dataset: { exportId: e.id, status: e.status, running: e.running.length ? "yes" : "no",
      outcome: e.last_run?.outcome ?? "", permissions: e.permissions, changesOnly: e.changes_only ? "yes" : "no" } },
    el("td", {}, box));
    for (const [column, content] of Object.entries(cells)) {
      // data-value: the API's own value (data_out, an ISO time), for scripts and tests
      const value = String(sortValue(e, column) ?? "");
      tr.append(el("td", { dataset: { col: column, value }, class: column === "rows" ? "num" : "" }, content));
    }
    return tr;
  }

  function render() {
    const shown = state.exports.filter(matches).sort(compare);
    body.replaceChildren(...shown.map(row));
    document.getElementById("empty").hidden = shown.length > 0;
    for (const th of table.querySelectorAll("th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === state.sort ? (state.descending ? "descending" : "ascending") : "none");
    }
    const running = state.exports.filter((e) => e.running.length).length;
    document.getElementById("counts").textContent =
      `${shown.length} of ${state.exports.length} shown` + (running ? `, ${running} running` : "");
    updateButtons();
  }

  function updateButtons() {
    const canEdit = state.exports.some((e) => e.permissions === "edit");
    const chosen = [...state.selected];
    const editable = chosen.length > 0 && chosen.every((id) => permissionOf(id) === "edit");
    // reset: only for changes-only exports, so only when every chosen one is
    const changesOnly = chosen.length > 0 && chosen.every((id) => exportOf(id)?.changes_only);
    for (const button of document.querySelectorAll("button[data-action]")) {
      button.hidden = !canEdit || (button.dataset.action === "reset" && !state.exports.some((e) => e.changes_only));
      const single = button.dataset.action === "duplicate";
      button.disabled = button.dataset.action !== "run-all" && (!editable || (single && chosen.length !== 1));
      if (button.dataset.action === "reset") button.disabled ||= !changesOnly;
    }
  }

  const exportOf = (id) => state.exports.find((e) => e.id === id);
  const permissionOf = (id) => exportOf(id)?.permissions;

  function fillOwners() {
    const select = document.getElementById("filter-owner");
    const current = select.value;
    const owners = [...new Set(state.exports.map((e) => e.owner))].sort();
    select.replaceChildren(el("option", { value: "" }, "All owners"), ...owners.map((o) => el("option", { value: o }, o)));
    select.value = owners.includes(current) ? current : "";
  }

  function renderBroken(broken) {
    document.getElementById("broken-section").hidden = broken.length === 0;
    document.querySelector("#broken tbody").replaceChildren(...broken.map((b) =>
      el("tr", { dataset: { file: b.file } }, el("td", {}, b.file), el("td", {}, el("pre", {}, b.error)))));
  }

  async function load() {
    try {
      const data = await api("/exports");
      state.exports = data.exports;
      const known = new Set(data.exports.map((e) => e.id));
      state.selected = new Set([...state.selected].filter((id) => known.has(id)));
      fillOwners();
      render();
      renderBroken(data.broken);
      ferryImports.render(data.imports ?? [], load);
    } catch (error) {
      say(`The list could not be loaded: ${error.message}`, true);
    }
  }

  // Poll while something runs, and for a while after an action, so outcomes show up.
  async function poll() {
    if (state.exports.some((e) => e.running.length) || ferryImports.running() || Date.now() < state.pollUntil) await load();
    setTimeout(poll, 3000);
  }

  table.querySelector("thead").addEventListener("click", (event) => {
    const th = event.target.closest("th[data-sort]");
    if (!th) return;
    state.descending = state.sort === th.dataset.sort ? !state.descending : false;
    state.sort = th.dataset.sort;
    render();
  });
  document.getElementById("select-all").addEventListener("change", (event) => {
    const shown = [...body.querySelectorAll("input.select")].map((box) => box.dataset.exportId);
    for (const id of shown) if (event.target.checked) state.selected.add(id); else state.selected.delete(id);
    render();
  });
  for (const id of ["search", "filter-status", "filter-kind", "filter-owner"]) {
    document.getElementById(id).addEventListener("input", render);
  }
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", async () => {
      const ids = [...state.selected].sort();
      const done = await exportActions[button.dataset.action](ids);
      if (done && button.dataset.action === "remove") state.selected.clear();
      state.pollUntil = Date.now() + 120000;
      await load();
    });
  }
  load().then(() => setTimeout(poll, 3000));
})();
