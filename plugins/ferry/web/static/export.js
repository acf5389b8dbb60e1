// An export's page: summary, preview, completed runs, definition; the actions for editors.
"use strict";
(() => {
  const { api, say, when, seconds, number, el, badge } = ferry;
  const exportId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const path = `/exports/${encodeURIComponent(exportId)}`;

  function facts(target, pairs) {
    target.replaceChildren(...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? "")]));
  }

  function showExport(e) {
    document.title = `${e.name} - Exports - Ferry`;
    document.getElementById("title").textContent = e.name;
    document.getElementById("status").replaceChildren(badge(e.status), ...(e.running.length ? [" ", badge("running")] : []));
    facts(document.getElementById("summary"), [
      ["ID", e.id], ["Type", e.kind], ["Owner", e.owner], ["Connection used", e.connections.join(", ")],
      ["Target", e.target], ["Status", [e.status, e.status_detail ? ` (${e.status_detail})` : ""].join("")],
      ["Schedule", e.schedule_text], ["Next run", when(e.next_run)],
      ["Refreshed", when(e.refreshed_at)], ["Your permissions", e.permissions],
      ...(e.changes_only ? [["Sends", changesText(e.changes)], ["Changes state", stateText(e.changes)]] : []),
    ]);
    document.getElementById("file").textContent = e.file;
    document.getElementById("yaml").textContent = e.yaml;
    document.getElementById("resolved").textContent = JSON.stringify(e.definition, null, 2);
    const note = document.getElementById("git-note");
    note.hidden = !e.under_git;
    note.textContent = "This definition is under version control: changes made here are made in the working tree; commit them for review.";
    document.querySelector("#limits tbody").replaceChildren(...Object.entries(e.limits).map(([kind, limit]) =>
      el("tr", {}, el("td", {}, kind), el("td", { class: "num" }, number(limit.value)), el("td", {}, limit.source))));
    for (const button of document.querySelectorAll("button[data-action]")) {
      button.hidden = e.permissions !== "edit" || (button.dataset.action === "reset" && !e.changes_only);
    }
    document.getElementById("edit-tools").hidden = e.permissions !== "edit";
  }

  function changesText(c) {
    const how = c.output === "files" ? "in added_, changed_ and removed_ files" : "with a last column _change";
    return `only the rows added, changed or removed since the last delivered run (${how}${c.key ? `, key ${c.key}` : ""})`;
  }

  // Which run's delivery the next run diffs against, linked to that run.
  function stateText(c) {
    if (c.problem) return `cannot be read: ${c.problem}`;
    if (!c.committed) {
      return c.resets ? "reset: the next run sends every row, as added" : "nothing delivered yet: the next run sends every row, as added";
    }
    const link = el("a", { href: `${ferry.root}/runs/${encodeURIComponent(c.committed_job_run_id)}` }, c.committed_run);
    return el("span", { id: "changes-state" }, "committed by run ", link, c.committed_at ? ` (finished ${when(c.committed_at)})` : "");
  }

  // Edit the YAML in place: saved only if it loads (the API undoes anything else).
  const editor = document.getElementById("definition-editor");
  const editing = (on) => {
    editor.hidden = !on;
    document.getElementById("yaml").hidden = on;
    document.getElementById("edit-definition").hidden = on;
    document.getElementById("save-definition").hidden = !on;
    document.getElementById("cancel-definition").hidden = !on;
  };
  document.getElementById("edit-definition").addEventListener("click", () => {
    editor.value = document.getElementById("yaml").textContent;
    editing(true);
  });
  document.getElementById("cancel-definition").addEventListener("click", () => editing(false));
  document.getElementById("save-definition").addEventListener("click", async () => {
    try {
      const result = await api(`${path}/definition`, { method: "PUT", body: { yaml: editor.value } });
      say(`Saved ${result.files.join(", ")}${ferry.editNote(result)}`);
      editing(false);
      await load(false);
    } catch (error) {
      say(error.message, true);
    }
  });

  function showPreview(p) {
    const note = document.getElementById("preview-note");
    const sample = document.getElementById("sample");
    if (!p || p.problem) {
      note.textContent = `No preview: ${p ? p.problem : "not asked"}`;
      return;
    }
    note.textContent = p.would_run ? "A run now would go ahead." : "A run now would not deliver.";
    facts(document.getElementById("preview"), [
      ["Eligible", p.eligible ? "yes" : `no: ${p.not_eligible}`],
      ["Rows", `${number(p.rows)} (maximum ${number(p.limits.max_rows.value)}, ${p.limits.max_rows.source})`],
      ["Estimated size", `${number(p.estimated_bytes)} bytes in ${p.estimated_files} file(s) (maximum ${number(p.limits.max_bytes.value)})`],
      ["Outcome", p.skip_reason ? `skipped: ${p.skip_reason}` : p.warnings.length ? `warning: ${p.warnings.join("; ")}` : "would run"],
    ]);
    sample.hidden = false;
    sample.textContent = p.sample_problem ? `No sample: ${p.sample_problem}` : `First ${p.sample_rows} rows as written (PII applied):\n${p.sample}`;
  }

  function runRow(r) {
    const link = `${ferry.root}/runs/${encodeURIComponent(r.job_run_id)}`;
    return el("tr", { dataset: { jobRunId: r.job_run_id, outcome: r.outcome } },
      el("td", {}, el("a", { href: link }, r.job_run_id)), el("td", {}, r.triggered_by),
      el("td", {}, when(r.started_at)), el("td", {}, seconds(r.duration_s)),
      el("td", { class: "num" }, number(r.rows)), el("td", { class: "num" }, number(r.files)),
      el("td", { class: "num" }, number(r.bytes)), el("td", {}, r.destinations.join(", ")),
      el("td", {}, badge(r.outcome), r.reason ? el("div", { class: "muted" }, r.reason) : null),
      el("td", {}, r.log_url ? el("a", { href: r.log_url, target: "_top" }, "Airflow log") : ""));
  }

  async function loadRuns() {
    const { runs } = await api(`${path}/runs`);
    document.querySelector("#runs tbody").replaceChildren(...runs.map(runRow));
    document.getElementById("no-runs").hidden = runs.length > 0;
  }

  async function load(preview) {
    try {
      const e = await api(`${path}?preview=${preview}`);
      showExport(e);
      if (preview) showPreview(e.preview);
      await loadRuns();
    } catch (error) {
      say(error.message, true);
    }
  }

  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", async () => {
      const done = await exportActions[button.dataset.action]([exportId]);
      if (done && button.dataset.action === "remove") setTimeout(() => { location.href = `${ferry.root}/`; }, 1500);
      else await load(false);
    });
  }
  load(false).then(() => api(`${path}?preview=true`).then((e) => showPreview(e.preview), (error) => showPreview({ problem: error.message })));
  setInterval(() => { if (editor.hidden) load(false); }, 5000);
})();
