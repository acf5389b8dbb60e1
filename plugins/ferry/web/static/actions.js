// The actions of the list and of an export's page: each asks the API, then says what happened.
"use strict";
const exportActions = (() => {
  const { api, say, confirmed, editNote } = ferry;
  const path = (id) => `/exports/${encodeURIComponent(id)}`;

  async function each(ids, doOne) {
    const lines = [];
    let failed = false;
    for (const id of ids) {
      try {
        lines.push(await doOne(id));
      } catch (error) {
        failed = true;
        lines.push(`${id}: ${error.message}`);
      }
    }
    say(lines.join("\n"), failed);
    return !failed;
  }

  async function run(ids) {
    return each(ids, async (id) => {
      const started = await api(`${path(id)}/run`, { method: "POST", body: {} });
      return `Started ${started.job_run_id}${started.note ? ` (${started.note})` : ""}`;
    });
  }

  async function runAll(ids) {
    const result = await api("/exports/run-all", { method: "POST", body: ids.length ? { ids } : {} });
    const started = result.started.map((r) => `Started ${r.job_run_id}`);
    const skipped = result.skipped.map((s) => `Not run: ${s.export_id} (${s.reason})`);
    say([...started, ...skipped].join("\n") || "Nothing to run");
    return true;
  }

  async function stop(ids) {
    return each(ids, async (id) => {
      const result = await api(`${path(id)}/stop`, { method: "POST", body: {} });
      return `Stopped ${result.stopped.join(", ") || "nothing (it had ended)"}`;
    });
  }

  async function duplicate(ids) {
    return each(ids, async (id) => {
      const result = await api(`${path(id)}/duplicate`, { method: "POST", body: {} });
      return `Created ${result.exports[0]} (inactive until scheduled)${editNote(result)}`;
    });
  }

  async function detach(ids) {
    return each(ids, async (id) => {
      const result = await api(`${path(id)}/detach`, { method: "POST", body: {} });
      return `Detached ${id}${editNote(result)}`;
    });
  }

  async function remove(ids) {
    if (!(await confirmed(`Remove ${ids.join(", ")}? The definition file is deleted; past runs stay in the history.`))) return false;
    return each(ids, async (id) => {
      const result = await api(path(id), { method: "DELETE" });
      return `Removed ${id}${editNote(result)}`;
    });
  }

  async function reset(ids) {
    const question = `Send everything next run? ${ids.join(", ")} forget${ids.length > 1 ? "" : "s"} what was delivered: ` +
      "the next run sends every row, marked added, instead of only the changes.";
    if (!(await confirmed(question))) return false;
    return each(ids, async (id) => {
      const result = await api(`${path(id)}/reset`, { method: "POST", body: {} });
      return `Reset ${id}: ${result.said}; its next run sends every row`;
    });
  }

  function schedule(ids) {
    const dialog = document.getElementById("schedule-dialog");
    const several = ids.length > 1;
    dialog.querySelector(".which").textContent = several ? `${ids.length} exports` : ids[0];
    dialog.querySelector("fieldset.mode").hidden = !several;
    dialog.querySelector(`input[name=mode][value=${several ? "keep" : "override"}]`).checked = true;
    return new Promise((resolve) => {
      dialog.onclose = async () => {
        if (dialog.returnValue !== "yes") return resolve(false);
        const text = dialog.querySelector("#schedule-input").value.trim();
        const mode = several ? dialog.querySelector("input[name=mode]:checked").value : (text ? "override" : "keep");
        const body = {
          ids, mode, active: dialog.querySelector("input[name=active]").checked,
          schedule: mode === "override" ? text || null : null,
          timezone: dialog.querySelector("#timezone-input").value.trim() || null,
        };
        try {
          const result = await api("/exports/schedule", { method: "POST", body });
          say(`Schedule saved for ${result.exports.join(", ")}${editNote(result)}`);
          resolve(true);
        } catch (error) {
          say(error.message, true);
          resolve(false);
        }
      };
      dialog.showModal();
    });
  }

  return { run, "run-all": runAll, stop, duplicate, detach, remove, schedule, reset };
})();
