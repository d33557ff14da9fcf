// hutong workbench: the mapping queue, driven from the keyboard. Every change goes through the
// JSON API (hutong.api); a 409 shows the conflict and reloads the term, never overwrites.
//
// Stable hooks for browser tests (keep them when restyling):
//   #queue-page[data-can-approve="true|false"][data-user]  the page; reviewers/admins approve
//   #queue tbody tr.term[data-term=<target|local_system|local_code|local_name>][data-index]
//       one row per term, most frequent first; the selected one has class "current"
//   #candidates tbody tr.candidate[data-mapping-id][data-version][data-code][data-index]
//       the selected term's candidates; the picked one has class "picked"
//   button[data-action="approve|reject|flag|comment|history"], #comment (textarea)
//   #search (input), #search-results li.result[data-code] (highlighted: class "current")
//   #history (panel, hidden until h), #history-list li.entry
//   #help (overlay, hidden until ?), #help-button, #help-close, #bulk (reviewers), #filters,
//   #pager[data-offset][data-limit][data-total], #stats b[data-stat], #toast (app.js)
//   body[data-busy] while a request of this page is running
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const esc = (text) => hutong.escape(text);
  const state = { data: null, index: 0, picked: 0, results: [], result: 0, timer: null };

  const term = () => state.data.terms[state.index];
  const candidate = () => term()?.candidates[state.picked];
  const canApprove = () => $("#queue-page").dataset.canApprove === "true";

  function query(offset) {
    const d = state.data;
    const params = new URLSearchParams({ status: d.status, limit: d.limit, offset });
    if (d.target) params.set("target", d.target);
    if (d.local_system) params.set("local_system", d.local_system);
    if (d.department) params.set("department", d.department);
    return params;
  }

  // -- rendering -------------------------------------------------------------------------------

  function renderTerms() {
    const rows = state.data.terms.map((t, i) => `
      <tr class="term" data-term="${esc(t.key)}" data-index="${i}" data-target="${esc(t.target)}"
          data-local-system="${esc(t.local_system)}" data-local-code="${esc(t.local_code)}"
          data-local-name="${esc(t.local_name)}">
        <td class="num">${t.frequency}</td><td>${esc(t.local_system)}</td><td>${esc(t.local_code)}</td>
        <td>${esc(t.local_name)}</td><td class="num">${t.candidates.length}</td></tr>`);
    $("#queue tbody").innerHTML = rows.join("") ||
      '<tr class="empty"><td colspan="5" class="muted">队列为空 nothing queued</td></tr>';
    const d = state.data;
    const pager = $("#pager");
    Object.assign(pager.dataset, { offset: d.offset, limit: d.limit, total: d.total });
    const last = Math.min(d.offset + d.limit, d.total);
    pager.textContent = `第 ${d.total ? d.offset + 1 : 0}–${last} 个术语，共 ${d.total} 个 terms`;
  }

  function renderTerm() {
    document.querySelectorAll("#queue tr.term").forEach((row) => {
      row.classList.toggle("current", Number(row.dataset.index) === state.index);
    });
    const t = term();
    $("#term-title").textContent = t ? `${t.local_code} ${t.local_name}` : "—";
    $("#term-meta").textContent = t ? `${t.local_system} → ${t.target} · 频次 frequency ${t.frequency}` +
      (t.example ? ` · 例 example ${t.example}` : "") : "";
    const rows = (t?.candidates || []).map((c, i) => `
      <tr class="candidate${i === state.picked ? " picked" : ""}" data-mapping-id="${c.mapping_id}"
          data-version="${c.version}" data-code="${esc(c.code)}" data-index="${i}">
        <td>${i + 1}</td><td>${esc(c.code)}</td><td>${esc(c.display)}</td>
        <td class="num">${c.score ?? ""}</td><td><span class="badge ${esc(c.status)}">${esc(c.status)}</span></td>
        <td class="why">${esc(c.why || "")}${c.comment ? `<div class="note">${esc(c.comment)}</div>` : ""}</td></tr>`);
    $("#candidates tbody").innerHTML = rows.join("") ||
      '<tr class="empty"><td colspan="6" class="muted">无候选：请检索编码 no candidates: search for a code</td></tr>';
    $("#comment").value = candidate()?.comment || "";
    $("#history").hidden = true;
    document.querySelector("#queue tr.term.current")?.scrollIntoView({ block: "nearest" });
  }

  function select(index) {
    const n = state.data.terms.length;
    state.index = Math.max(0, Math.min(index, n - 1));
    state.picked = 0;
    renderTerm();
  }

  function pick(index) {
    if (!term() || index >= term().candidates.length) return;
    state.picked = index;
    document.querySelectorAll("#candidates tr.candidate").forEach((row) => {
      row.classList.toggle("picked", Number(row.dataset.index) === index);
    });
    $("#comment").value = candidate()?.comment || "";
    if (!$("#history").hidden) showHistory();
  }

  // -- talking to the API ----------------------------------------------------------------------

  async function busy(work) {
    document.body.dataset.busy = "1";
    try { return await work(); } finally { delete document.body.dataset.busy; }
  }

  // Reload the page of the queue; select the term with `key` (else stay at the same position)
  // and, when it is the same term, the same candidate (a conflict must not move the pick).
  async function load(key, offset = state.data.offset) {
    const keep = state.index;
    const mapping = term()?.key === key ? candidate()?.mapping_id : undefined;
    state.data = await hutong.api("GET", "/api/queue?" + query(offset));
    renderTerms();
    const found = state.data.terms.findIndex((t) => t.key === key);
    select(found >= 0 ? found : keep);
    const again = term()?.candidates.findIndex((c) => c.mapping_id === mapping) ?? -1;
    if (again > 0) pick(again);
    refreshStats();
  }

  async function refreshStats() {
    const params = new URLSearchParams();
    if (state.data.target) params.set("target", state.data.target);
    if (state.data.local_system) params.set("local_system", state.data.local_system);
    const s = await hutong.api("GET", "/api/stats?" + params).catch(() => null);
    if (!s) return;
    for (const name of ["unreviewed", "flagged", "approved"]) {
      const cell = document.querySelector(`#stats b[data-stat="${name}"]`);
      if (cell) cell.textContent = s.mappings[name];
    }
    const cover = document.querySelector('#stats b[data-stat="coverage"]');
    if (cover) cover.textContent = (s.coverage_frequency * 100).toFixed(1) + "%";
  }

  // Run a change; then move to the next term, or on a conflict reload this one.
  async function change(work, done) {
    const here = term()?.key;
    const next = state.data.terms[state.index + 1]?.key;
    try {
      const result = await busy(work);
      hutong.toast(done(result), "ok");
      await load(next ?? here);
    } catch (error) {
      hutong.toast(error.message, "error");
      if (error.status === 409) await load(here).catch(() => null);
    }
  }

  function decide(action) {
    const c = candidate();
    if (!c) { hutong.toast("没有可决定的候选 no candidate to decide", "error"); return; }
    const body = { action, version: c.version };
    const text = $("#comment").value.trim();
    if (text && text !== (c.comment || "")) body.comment = text;
    if (action === "comment" && !body.comment) {
      $("#comment").focus();
      hutong.toast("请先写评论 write the comment first", "error");
      return;
    }
    change(() => hutong.api("POST", `/api/mappings/${c.mapping_id}/decision`, body),
      (m) => `${m.code} ${m.display}: ${m.status} (v${m.version})`);
  }

  function useCode(code) {
    const t = term();
    if (!t) return;
    const body = { target: t.target, local_system: t.local_system, local_code: t.local_code,
                   local_name: t.local_name, code, approve: canApprove() };
    const text = $("#comment").value.trim();
    if (text) body.comment = text;
    clearSearch();
    change(() => hutong.api("POST", "/api/terms/propose", body), (r) =>
      `${r.created ? "已提议 proposed" : "已有候选 already a candidate"}: ${r.mapping.code} ` +
      `${r.mapping.display} (${r.mapping.status})`);
  }

  async function showHistory() {
    const c = candidate();
    if (!c) return;
    const panel = $("#history");
    panel.hidden = false;
    try {
      const entries = await hutong.api("GET", `/api/mappings/${c.mapping_id}/history`);
      $("#history-list").innerHTML = entries.map((e) => `
        <li class="entry"><b>${esc(e.at.slice(0, 19).replace("T", " "))}</b> ${esc(e.actor)}
          <span class="badge">${esc(e.action)}</span> v${e.version ?? ""}
          <span class="muted">${e.changes.map((d) => `${esc(d.field)}: ${esc(d.before ?? "∅")} → ${esc(d.after ?? "∅")}`).join("; ")}</span></li>`).join("");
    } catch (error) {
      hutong.toast(error.message, "error");
    }
  }

  async function bulkApprove() {
    if (!canApprove()) { hutong.toast("仅审核员可批量批准 reviewers only", "error"); return; }
    const scope = state.data.target || "全部目标 all targets";
    const answer = prompt(`批量批准不低于此分值的最佳候选（${scope}）\nBulk approve each term's best candidate at or above:`, "99");
    if (answer === null) return;
    const score = Number(answer);
    if (!Number.isFinite(score) || score < 0 || score > 100) {
      hutong.toast("分值应在 0–100 a score is 0–100", "error");
      return;
    }
    const body = { min_score: score };
    if (state.data.target) body.target = state.data.target;
    change(() => hutong.api("POST", "/api/mappings/bulk-approve", body),
      (r) => `已批量批准 ${r.approved} 条 approved ${r.approved}`);
  }

  // -- search ----------------------------------------------------------------------------------

  function clearSearch() {
    $("#search").value = "";
    state.results = [];
    $("#search-results").innerHTML = "";
  }

  async function search() {
    const q = $("#search").value.trim();
    const system = term()?.target || state.data.target;
    if (!q || !system) { state.results = []; $("#search-results").innerHTML = ""; return; }
    try {
      state.results = await hutong.api("GET", "/api/search?" + new URLSearchParams({ q, system }));
    } catch (error) {
      hutong.toast(error.message, "error");
      return;
    }
    state.result = 0;
    renderResults();
  }

  function renderResults() {
    $("#search-results").innerHTML = state.results.map((c, i) => `
      <li class="result${i === state.result ? " current" : ""}" data-code="${esc(c.code)}">
        <b>${esc(c.code)}</b> ${esc(c.display)}${c.gray ? ' <span class="badge warning">灰码 gray</span>' : ""}</li>`).join("") ||
      (($("#search").value.trim()) ? '<li class="muted">无匹配 no match</li>' : "");
  }

  // -- keys ------------------------------------------------------------------------------------

  function toggleHelp(show = $("#help").hidden) {
    $("#help").hidden = !show;
    if (show) $("#help-close").focus();
  }

  function page(step) {
    const d = state.data;
    const offset = d.offset + step * d.limit;
    if (offset < 0 || offset >= d.total) return;
    load(undefined, offset).then(() => {
      select(0);
      history.replaceState(null, "", "/queue?" + query(offset));
    }).catch((error) => hutong.toast(error.message, "error"));
  }

  const KEYS = {
    j: () => select(state.index + 1), ArrowDown: () => select(state.index + 1),
    k: () => select(state.index - 1), ArrowUp: () => select(state.index - 1),
    a: () => decide("approve"), r: () => decide("reject"), f: () => decide("flag"),
    c: () => $("#comment").focus(), "/": () => $("#search").focus(),
    h: () => ($("#history").hidden ? showHistory() : ($("#history").hidden = true)),
    b: bulkApprove, g: () => load(term()?.key).then(() => hutong.toast("已刷新 reloaded")),
    "?": () => toggleHelp(), "[": () => page(-1), "]": () => page(1),
  };

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { toggleHelp(false); return; }
    if (hutong.typing(event) || (!$("#help").hidden && event.key !== "?")) return;
    if (/^[1-9]$/.test(event.key)) { pick(Number(event.key) - 1); event.preventDefault(); return; }
    const run = KEYS[event.key];
    if (!run || (!state.data.terms.length && !"g?[]b".includes(event.key))) return;
    event.preventDefault();
    run();
  }

  function onSearchKey(event) {
    const n = state.results.length;
    if (event.key === "ArrowDown" && n) { state.result = (state.result + 1) % n; renderResults(); }
    else if (event.key === "ArrowUp" && n) { state.result = (state.result - 1 + n) % n; renderResults(); }
    else if (event.key === "Enter") {
      if (n) useCode(state.results[state.result].code); else search();
    } else if (event.key === "Escape") { event.target.blur(); return; }
    else return;
    event.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", () => {
    state.data = JSON.parse($("#queue-data").textContent);
    document.addEventListener("keydown", onKey);
    $("#search").addEventListener("keydown", onSearchKey);
    $("#search").addEventListener("input", () => {
      clearTimeout(state.timer);
      state.timer = setTimeout(search, 200);
    });
    $("#comment").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); decide("comment"); }
      if (event.key === "Escape") event.target.blur();
    });
    $("#queue tbody").addEventListener("click", (event) => {
      const row = event.target.closest("tr.term");
      if (row) select(Number(row.dataset.index));
    });
    $("#candidates tbody").addEventListener("click", (event) => {
      const row = event.target.closest("tr.candidate");
      if (row) pick(Number(row.dataset.index));
    });
    $("#search-results").addEventListener("click", (event) => {
      const item = event.target.closest("li.result");
      if (item) useCode(item.dataset.code);
    });
    document.querySelectorAll("button[data-action]").forEach((button) => {
      button.addEventListener("click", () => {
        const action = button.dataset.action;
        if (action === "history") showHistory(); else decide(action);
      });
    });
    $("#bulk")?.addEventListener("click", bulkApprove);
    $("#help-button").addEventListener("click", () => toggleHelp(true));
    $("#help-close").addEventListener("click", () => toggleHelp(false));
    renderTerms();
    select(0);
  });
})();
