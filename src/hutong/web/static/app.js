// hutong workbench: what every page shares. Every action goes through the JSON API with the
// session's CSRF token (from <meta name="csrf-token">) in the X-CSRF-Token header.
"use strict";

const hutong = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.detail && (data.detail.message || data.detail)) || response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  function toast(text, kind = "info") {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.className = "show " + kind;
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.className = ""; }, kind === "error" ? 8000 : 3000);
  }

  function escape(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  // true when a key press belongs to a text field (shortcuts must not fire there)
  const typing = (event) => ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("logout")?.addEventListener("click", async () => {
      await api("POST", "/api/logout").catch(() => null);
      location.href = "/login";
    });
    const add = document.getElementById("add-user");
    add?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(add));
      try {
        await api("POST", "/api/users", body);
        location.reload();
      } catch (error) {
        toast(error.message, "error");
      }
    });
  });

  return { api, toast, escape, typing };
})();
