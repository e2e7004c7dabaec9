// The page's whole logic: it talks to the public API as any client would.
// A chain of pages is a list of the tokens that fetch each page (null for the first); the API
// returns the same page for the same token, so "previous" re-fetches rather than caches.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { user: null, tokens: [null], page: 0, next: null, pageSize: 5 };

// The key, when one is typed, goes with every call: reads need one too outside dev mode.
async function api(method, path, body) {
  const key = $("key").value;
  const headers = key ? { "x-api-key": key } : {};
  const response = await fetch(path, {
    method,
    headers: body ? { "content-type": "application/json", ...headers } : headers,
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    throw new Error(`${response.status}: ${detail || response.statusText}`);
  }
  return data;
}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function itemLine(item, extra) {
  const li = document.createElement("li");
  li.append(item.title || item.item_id);
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = item.item_id;
  li.append(id);
  if (extra) li.append(extra);
  li.dataset.item = item.item_id;
  return li;
}

async function showHistory() {
  const data = await api("GET", `/v1/history?user_id=${encodeURIComponent(state.user)}&limit=10`);
  $("history").replaceChildren(...data.items.map((item) => itemLine(item)));
}

async function showPage(index) {
  const body = { user_id: state.user, page_size: state.pageSize };
  if (state.tokens[index]) body.page_token = state.tokens[index];
  const data = await api("POST", "/v1/recommendations", body);
  state.page = index;
  state.tokens[index + 1] = data.next_page_token;
  state.tokens.length = index + 2;
  $("recs").replaceChildren(
    ...data.items.map((item) => {
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = item.score === null ? "" : item.score.toFixed(2);
      const li = itemLine(item, score);
      li.value = item.rank;
      li.title = "click: record a click event";
      return li;
    }),
  );
  $("page-label").textContent = `· page ${data.page}`;
  $("model").textContent = `model ${data.model_version}`;
  $("fallback").hidden = !data.fallback;
  $("prev").disabled = index === 0;
  $("next").disabled = !data.next_page_token;
}

async function showUser(user) {
  state.user = user;
  state.tokens = [null];
  await Promise.all([showHistory(), showPage(0)]);
  say(`${user}: page 1 of a new chain`);
}

async function click(li) {
  const event = {
    event_id: crypto.randomUUID(),
    user_id: state.user,
    item_id: li.dataset.item,
    type: "click",
  };
  await api("POST", "/v1/events", event);
  li.classList.add("clicked");
  // A chain's pages never change once served; a new chain is decoded from the new history.
  state.tokens = [null];
  await Promise.all([showHistory(), showPage(0)]);
  say(`recorded a click on ${event.item_id}; page 1 of a new chain, decoded after it`);
}

function guarded(fn) {
  return (...args) => fn(...args).catch((e) => say(e.message, true));
}

async function start() {
  // The demo links here as /#key=...: the fragment never leaves the browser.
  const key = new URLSearchParams(location.hash.slice(1)).get("key");
  if (key) $("key").value = key;
  const config = await api("GET", "/ui/config");
  state.pageSize = config.page_size;
  $("model").textContent = `model ${config.model_version}`;
  $("examples").replaceChildren(
    ...config.example_users.map((id) => Object.assign(document.createElement("option"), { value: id })),
  );
  if (config.reads_need_key) $("key").placeholder = "X-API-Key, for pages and events";
  else if (!config.writes_need_key) $("key").placeholder = "not needed here";
  $("user-form").addEventListener("submit", guarded(async (e) => {
    e.preventDefault();
    await showUser($("user").value.trim());
  }));
  $("next").addEventListener("click", guarded(() => showPage(state.page + 1)));
  $("prev").addEventListener("click", guarded(() => showPage(state.page - 1)));
  $("recs").addEventListener("click", guarded(async (e) => {
    const li = e.target.closest("li");
    if (li) await click(li);
  }));
  if (config.example_users.length) {
    $("user").value = config.example_users[0];
    await showUser(config.example_users[0]);
  }
}

document.addEventListener("DOMContentLoaded", guarded(start));
