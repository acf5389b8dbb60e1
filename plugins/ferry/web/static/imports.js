// The list's imports: table, mode, source, schedule, last run with its counts; Run for those
// who may run it; each import's run history (rows read, inserted, updated, rejected) opens below it.
"use strict";
const ferryImports = (() => {
  const { api, say, when, seconds, number, el, badge } = ferry;
  const COUNTS = ["rows", "inserted", "updated", "deleted", "rejected"];
  const COUNT_NAMES = { rows: "read", inserted: "inserted", updated: "updated", deleted: "deleted", rejected: "rejected" };
  const linked = location.hash.startsWith("#import-") ? decodeURIComponent(location.hash.slice(8)) : null;
  const state = { imports: [], open: new Set(linked ? [linked] : []), scrollTo: linked, reload: null, runs: new Map() };
  const runLink = (id) => `${ferry.root}/runs/${encodeURIComponent(id)}`;
  const path = (id) => `/imports/${encodeURIComponent(id)}`;

  function counts(run) {
    return el("span", { class: "counts" }, COUNTS.filter((name) => run[name] !== null && run[name] !== undefined)
      .map((name) => el("span", { dataset: { count: name } }, `${number(run[name])} ${COUNT_NAMES[name]}`))
      .flatMap((node, i) => (i ? [", ", node] : [node])));
  }

  // A run may wait hours for its file: the last finished run stays shown beside it.
  function lastRun(i) {
    const running = i.running.length ? [badge("running"), el("br")] : [];
    const last = i.last_run;
    if (!last) return [...running, el("span", { class: "muted" }, "never")];
    return [...running, el("a", { href: runLink(last.job_run_id) }, when(last.finished_at)), " ", badge(last.outcome),
      el("div", { class: "muted" }, counts(last))];
  }

  async function run(i) {
    try {
      const started = await api(`${path(i.id)}/run`, { method: "POST", body: {} });
      say(`Started ${started.job_run_id}${started.note ? ` (${started.note})` : ""}`);
    } catch (error) {
      say(`${i.id}: ${error.message}`, true);
    }
    if (state.reload) await state.reload();
  }

  function buttons(i) {
    const history = el("button", { type: "button", dataset: { importAction: "history", importId: i.id },
      "aria-expanded": String(state.open.has(i.id)) }, "Run history");
    history.addEventListener("click", () => toggle(i.id));
    if (i.permissions !== "edit") return [history];
    const start = el("button", { type: "button", class: "primary", dataset: { importAction: "run", importId: i.id } }, "Run");
    start.addEventListener("click", () => run(i));
    return [start, " ", history];
  }

  function row(i) {
    return el("tr", { dataset: { importId: i.id, status: i.status, outcome: i.last_run?.outcome ?? "",
      running: i.running.length ? "yes" : "no", permissions: i.permissions } },
    el("td", { dataset: { col: "name" } }, i.name, el("div", { class: "muted" }, i.id)),
    el("td", { dataset: { col: "table" } }, i.table), el("td", { dataset: { col: "mode" } }, i.mode),
    el("td", { dataset: { col: "source" } }, i.source_type, el("div", { class: "muted" }, i.connections.join(", "))),
    el("td", { dataset: { col: "status" } }, badge(i.status), i.status_detail ? el("div", { class: "muted" }, i.status_detail) : null),
    el("td", { dataset: { col: "schedule" } }, i.schedule_text), el("td", { dataset: { col: "next_run" } }, when(i.next_run)),
    el("td", { dataset: { col: "last_run" } }, lastRun(i)),
    el("td", { dataset: { col: "permissions" } }, i.permissions === "edit" ? "Edit" : "View"),
    el("td", {}, buttons(i)));
  }

  // The runs come from the same route as an export's; the last ones shown stay while it answers.
  function historyRow(id) {
    const cell = el("td", { colspan: 10 }, state.runs.get(id) ?? el("p", { class: "muted" }, "Loading runs..."));
    api(`/exports/${encodeURIComponent(id)}/runs`).then(({ runs }) => {
      state.runs.set(id, runs.length ? runsTable(runs) : el("p", { class: "muted" }, "No completed run yet."));
      cell.replaceChildren(state.runs.get(id));
    }, (error) => cell.replaceChildren(el("p", { class: "muted" }, `The runs could not be loaded: ${error.message}`)));
    return el("tr", { class: "import-history", dataset: { historyOf: id } }, cell);
  }

  function runsTable(runs) {
    const head = ["JobID.RunID", "Triggered by", "Start", "Duration", "Read", "Inserted", "Updated", "Deleted", "Rejected", "Outcome", "Log"];
    return el("table", { class: "import-runs" }, el("thead", {}, el("tr", {}, head.map((name) => el("th", {}, name)))),
      el("tbody", {}, runs.map((r) => el("tr", { dataset: { jobRunId: r.job_run_id, outcome: r.outcome } },
        el("td", {}, el("a", { href: runLink(r.job_run_id) }, r.job_run_id)), el("td", {}, r.triggered_by),
        el("td", {}, when(r.started_at)), el("td", {}, seconds(r.duration_s)),
        ...COUNTS.map((name) => el("td", { class: "num", dataset: { col: name } }, number(r[name]))),
        el("td", {}, badge(r.outcome), r.reason ? el("div", { class: "muted" }, r.reason) : null),
        el("td", {}, r.log_url ? el("a", { href: r.log_url, target: "_top" }, "Airflow log") : "")))));
  }

  function toggle(id) {
    if (state.open.has(id)) state.open.delete(id); else state.open.add(id);
    draw();
  }

  function draw() {
    document.getElementById("imports-section").hidden = state.imports.length === 0;
    document.querySelector("#imports tbody").replaceChildren(...state.imports.flatMap((i) =>
      state.open.has(i.id) ? [row(i), historyRow(i.id)] : [row(i)]));
    if (state.scrollTo) {  // once: the list opened from an import run's page (#import-<id>)
      document.querySelector(`#imports tr[data-import-id="${CSS.escape(state.scrollTo)}"]`)?.scrollIntoView();
      state.scrollTo = null;
    }
  }

  function render(imports, reload) {
    state.imports = imports;
    state.reload = reload ?? state.reload;
    const known = new Set(imports.map((i) => i.id));
    state.open = new Set([...state.open].filter((id) => known.has(id)));
    draw();
  }

  const running = () => state.imports.some((i) => i.running.length);

  return { render, running };
})();
