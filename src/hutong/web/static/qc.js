// hutong workbench: the QC worklist (/runs/{run}) and the case page (/runs/{run}/cases/{id}).
//
// Hooks for browser tests (stable ids, classes and data attributes):
//   worklist  table#qc-worklist[data-run] > tbody > tr.finding[data-key][data-version][data-status]
//             [data-case][data-href]; the current row has class "current";
//             form#qc-filters (severity, rule, department, status, sort); #qc-total
//   case      #qc-case[data-run][data-case]; #case-setl (tr[data-field], tr.hl = named by a finding);
//             #case-diagnoses, #case-procedures, #case-items (tr.hl rows, td.hl[data-field] cells,
//             tr[data-findings] = keys of the findings naming the row); #case-findings >
//             li.finding#f-{key}[data-key][data-version][data-status] with input.comment;
//             #group-before (td.drg), #drg-trace > li (one per step), #group-after (tr[data-key])
//   both      button[data-state="fixed"|"accepted"|"open"] inside a finding marks it through
//             POST /api/runs/{run}/findings/{key}/state; .badge.status shows the state.
// Keys (not while typing): j/k next/previous finding, Enter open its case (worklist),
// x fixed, a accepted, o reopen.
"use strict";

(() => {
  const STATUS_ZH = { open: "待处理", fixed: "已修改", accepted: "已接受" };
  let rows = [];
  let current = -1;
  let run = "";

  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("current", i === current));
    rows[current].scrollIntoView({ block: "nearest" });
    focusRows(rows[current].dataset.key);
  }

  // on the case page: the face-sheet rows the current finding names get class "focus"
  function focusRows(key) {
    document.querySelectorAll("#qc-case tr[data-findings]").forEach((tr) => {
      tr.classList.toggle("focus", key !== undefined && tr.dataset.findings.split(" ").includes(key));
    });
  }

  function show(row, state) {
    row.dataset.version = state.version;
    row.dataset.status = state.status;
    const badge = row.querySelector(".badge.status");
    if (badge) {
      badge.className = "badge status " + state.status;
      badge.textContent = `${STATUS_ZH[state.status]} ${state.status}`;
    }
    const who = row.querySelector(".who-marked");
    if (who) who.textContent = state.username;
  }

  async function mark(row, status) {
    const key = row.dataset.key;
    const body = { status, version: Number(row.dataset.version) };
    const comment = row.querySelector("input.comment");
    if (comment) body.comment = comment.value;
    try {
      const state = await hutong.api("POST", `/api/runs/${encodeURIComponent(run)}/findings/${key}/state`, body);
      show(row, state);
      hutong.toast(`${STATUS_ZH[status]} / marked ${status}`, "info");
    } catch (error) {
      if (error.status === 409 && error.data && error.data.current) {
        const now = error.data.current;
        show(row, now);
        hutong.toast(`已被 ${now.username} 修改为 ${STATUS_ZH[now.status]}，请确认后重试 / ` +
                     `${now.username} changed it to ${now.status} meanwhile: check, then try again`, "error");
      } else {
        hutong.toast(error.message, "error");
      }
    }
  }

  async function toggleHistory(row) {
    const list = row.querySelector("ul.history");
    if (!list) return;
    if (!list.hidden) { list.hidden = true; return; }
    try {
      const items = await hutong.api("GET", `/api/runs/${encodeURIComponent(run)}/findings/${row.dataset.key}/history`);
      list.innerHTML = items.length
        ? items.map((h) => `<li>${hutong.escape(h.at.slice(0, 16).replace("T", " "))} ${hutong.escape(h.username)}: ` +
            `${hutong.escape(h.old_status)} → ${hutong.escape(h.new_status)} ${hutong.escape(h.comment)}</li>`).join("")
        : "<li>尚无记录 / no changes yet</li>";
      list.hidden = false;
    } catch (error) {
      hutong.toast(error.message, "error");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const filters = document.getElementById("qc-filters");
    filters?.addEventListener("change", () => filters.submit());
    const table = document.getElementById("qc-worklist");
    const detail = document.getElementById("qc-case");
    const root = table || detail;
    if (!root) return;
    run = root.dataset.run;
    rows = Array.from(root.querySelectorAll(table ? "tr.finding" : "li.finding"));

    root.addEventListener("click", (event) => {
      const row = event.target.closest(".finding");
      if (!row) return;
      select(rows.indexOf(row));
      const button = event.target.closest("button");
      if (button && button.dataset.state) mark(row, button.dataset.state);
      else if (button && button.classList.contains("history")) toggleHistory(row);
    });

    document.addEventListener("keydown", (event) => {
      if (hutong.typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const row = rows[current];
      if (event.key === "j") select(current + 1);
      else if (event.key === "k") select(current - 1);
      else if (event.key === "Enter" && row && table) location.href = row.dataset.href;
      else if (row && { x: 1, a: 1, o: 1 }[event.key]) {
        mark(row, { x: "fixed", a: "accepted", o: "open" }[event.key]);
      } else return;
      event.preventDefault();
    });

    const wanted = location.hash.startsWith("#f-") ? location.hash.slice(3) : "";
    const start = rows.findIndex((row) => row.dataset.key === wanted);
    if (rows.length) select(start >= 0 ? start : 0);
  });
})();
