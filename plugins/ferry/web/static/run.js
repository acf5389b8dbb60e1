// A run's page: its record, the manifest's files, validation, rejects and downloads.
"use strict";
(() => {
  const { api, say, when, seconds, number, el, badge } = ferry;
  const jobRunId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());

  function facts(pairs) {
    document.getElementById("summary").replaceChildren(
      ...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? "")]));
  }

  function validation(summary) {
    const box = document.getElementById("validation");
    if (!summary) return box.replaceChildren(el("p", { class: "muted" }, "No validation results are kept for this run."));
    const lines = [
      el("p", {}, `${summary.passed ?? 0} expectations passed`),
      ...(summary.failed ?? []).map((line) => el("p", {}, badge("failed"), " ", line)),
      ...(summary.warned ?? []).map((line) => el("p", {}, badge("skipped"), " ", line)),
    ];
    box.replaceChildren(...lines);
  }

  // An import's rejects file stays in the worker's folder, outside the download area.
  function importRejects(run) {
    if (!run.rejects_file) return el("p", { class: "muted" }, `${number(run.rejected ?? 0)} rows were rejected; no rejects file.`);
    return el("p", { id: "rejects-file" }, `${number(run.rejected)} rows rejected (row, column, value, reason) in `,
      el("code", {}, run.rejects_file.location),
      el("span", { class: "muted" }, " on the worker: not in the download area, so this page cannot serve it."));
  }

  function show(run) {
    document.title = `${run.job_run_id} - Ferry`;
    document.getElementById("title").textContent = run.job_run_id;
    document.getElementById("outcome").replaceChildren(badge(run.outcome));
    const imported = run.kind === "import";
    const exportLink = document.getElementById("export-link");
    // an import has no page of its own: its run history opens in the list
    exportLink.href = imported ? `${ferry.root}/#import-${encodeURIComponent(run.export_id)}`
      : `${ferry.root}/exports/${encodeURIComponent(run.export_id)}`;
    exportLink.textContent = run.export_id;
    const loaded = imported ? [["Rows read", number(run.rows)], ["Inserted", number(run.inserted)],
      ["Updated", number(run.updated)], ["Deleted", number(run.deleted)], ["Rejected", number(run.rejected)]]
      : [["Rows", number(run.rows)]];
    facts([
      [imported ? "Import" : "Export", run.export_id], ["Airflow run", run.run_id], ["Triggered by", run.triggered_by],
      ["Started", when(run.started_at)], ["Finished", when(run.finished_at)], ["Duration", seconds(run.duration_s)],
      ...loaded, [imported ? "Files read" : "Files", number(run.files)], ["Bytes", number(run.bytes)],
      ["Destinations", run.destinations.join(", ")], ["Outcome", run.reason ? `${run.outcome}: ${run.reason}` : run.outcome],
      ["Group run", run.group_run_id], ["Log", run.log_url ? el("a", { href: run.log_url, target: "_top" }, "Airflow log") : ""],
    ]);
    document.querySelector("#files tbody").replaceChildren(...run.files.map((f) =>
      el("tr", { dataset: { file: f.name } }, el("td", {}, f.name), el("td", {}, f.kind ?? "data"),
        el("td", { class: "num" }, number(f.rows)), el("td", { class: "num" }, number(f.bytes)),
        el("td", {}, el("code", { class: "hash" }, f.sha256)))));
    document.getElementById("downloads").replaceChildren(...run.downloads.map((d) =>
      el("li", {}, el("a", { class: "download", href: d.url, download: d.name, dataset: { sha256: d.sha256 } }, d.name),
        " ", el("span", { class: "muted" }, `${number(d.bytes)} bytes`))));
    document.getElementById("no-downloads").hidden = run.downloads.length > 0;
    validation(run.validation);
    const rejects = document.getElementById("rejects");
    rejects.replaceChildren(run.rejects.length
      ? el("ul", {}, ...run.rejects.map((r) => el("li", {}, `${r.name}: ${number(r.rows)} rows rejected`)))
      : imported ? importRejects(run) : el("p", { class: "muted" }, "No rows were rejected."));
    document.getElementById("receipts").textContent = JSON.stringify(run.receipts, null, 2);
  }

  api(`/runs/${encodeURIComponent(jobRunId)}`).then(show, (error) => say(error.message, true));
})();
