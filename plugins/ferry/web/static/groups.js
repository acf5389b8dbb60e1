// Job groups: the list's table (list page) and one group's page, with Run and Stop for editors.
"use strict";
const ferryGroups = (() => {
  const { api, say, when, el, badge } = ferry;
  const groupLink = (id) => `${ferry.root}/groups/${encodeURIComponent(id)}`;
  const runLink = (id) => `${ferry.root}/runs/${encodeURIComponent(id)}`;

  async function act(id, action) {
    try {
      const result = await api(`/groups/${encodeURIComponent(id)}/${action}`, { method: "POST", body: {} });
      say(action === "run" ? `Started ${result.group_run_id}` : `Stopped ${result.stopped.join(", ")}`);
    } catch (error) {
      say(error.message, true);
    }
  }

  function actionButtons(g, after) {
    if (g.permissions !== "edit") return [];
    return ["run", "stop"].map((action) => {
      const button = el("button", { type: "button", dataset: { groupAction: action, groupId: g.id } },
        action === "run" ? "Run" : "Stop");
      button.addEventListener("click", async () => { await act(g.id, action); await after(); });
      return button;
    });
  }

  function lastRun(g) {
    if (g.running.length) return badge("running");
    if (!g.last_run) return el("span", { class: "muted" }, "never");
    return [el("span", {}, g.last_run.group_run_id), " ", badge(g.last_run.outcome)];
  }

  async function loadList() {
    const body = document.querySelector("#groups tbody");
    if (!body) return;
    const { groups } = await api("/groups");
    document.getElementById("groups-section").hidden = groups.length === 0;
    body.replaceChildren(...groups.map((g) => el("tr", { dataset: { groupId: g.id, status: g.status } },
      el("td", {}, el("a", { href: groupLink(g.id) }, g.name), el("div", { class: "muted" }, g.id)),
      el("td", {}, g.members.join(" \u2192 ")), el("td", {}, badge(g.status)), el("td", {}, g.schedule_text),
      el("td", {}, when(g.next_run)), el("td", {}, lastRun(g)),
      el("td", {}, g.permissions === "edit" ? "Edit" : "View"), el("td", {}, actionButtons(g, loadList)))));
  }

  function memberCell(member) {
    const text = `${member.export_id}: `;
    return el("li", { dataset: { exportId: member.export_id, outcome: member.outcome } }, text,
      member.job_run_id ? el("a", { href: runLink(member.job_run_id) }, member.outcome) : member.outcome);
  }

  async function loadPage(groupId) {
    try {
      const g = await api(`/groups/${encodeURIComponent(groupId)}`);
      document.title = `${g.name} - Job groups - Ferry`;
      document.getElementById("title").textContent = g.name;
      document.getElementById("status").replaceChildren(badge(g.status), ...(g.running.length ? [" ", badge("running")] : []));
      document.getElementById("summary").replaceChildren(...[
        ["ID", g.id], ["Owner", g.owner], ["Schedule", g.schedule_text], ["Next run", when(g.next_run)],
        ["Your permissions", g.permissions],
      ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "")]));
      document.getElementById("members").replaceChildren(...g.members.map((m) =>
        el("li", {}, el("a", { href: `${ferry.root}/exports/${encodeURIComponent(m)}` }, m))));
      document.getElementById("actions").replaceChildren(...actionButtons(g, () => loadPage(groupId)));
      document.querySelector("#group-runs tbody").replaceChildren(...g.runs.map((r) =>
        el("tr", { dataset: { groupRunId: r.group_run_id, outcome: r.outcome } },
          el("td", {}, r.group_run_id), el("td", {}, when(r.started_at)), el("td", {}, when(r.finished_at)),
          el("td", {}, badge(r.outcome)), el("td", {}, el("ol", {}, r.members.map(memberCell))))));
      document.getElementById("no-runs").hidden = g.runs.length > 0;
    } catch (error) {
      say(error.message, true);
    }
  }

  return { loadList, loadPage };
})();
if (document.getElementById("groups")) {
  ferryGroups.loadList().catch((error) => ferry.say(error.message, true));
}
