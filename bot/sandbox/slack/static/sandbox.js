// The sandbox's Slack window: sidebar, person switcher, channel timeline with threads and
// ephemeral messages, composer, App Home and modals. Everything a person does is POSTed to
// the fake, which sends it to the app as Slack would; the page then waits for news
// (GET /sandbox/state long-polls) and redraws only the messages that changed.

import { blocks, attachments } from "./blocks.js";
import { mrkdwn } from "./mrkdwn.js";

const HOME = "home";
const params = new URLSearchParams(location.search);
const ui = {
  user: params.get("as") || "",
  place: params.get("place") || "",
  version: -1,
  snapshot: null,
  poll: null,
  drawn: new Map(), // message key -> {json, node}
  openThreads: new Set(),
  states: new Map(), // message or view key -> Map(action_id -> value)
  modalErrors: {},
  homeOpenedFor: null,
  fresh: true, // the next channel drawing starts at the bottom
  target: params.get("ts"), // a permalink's message, shown once it is drawn
};

const $ = (id) => document.getElementById(id);

function el(tag, className, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function say(text, kind = "info") {
  const toast = $("toast");
  toast.textContent = text;
  toast.className = `toast ${kind}`;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { toast.className = "toast hidden"; }, 6000);
}

async function post(what, body) {
  const response = await fetch(`/sandbox/${what}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }),
  });
  const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!answer.ok) say(`Slack: ${answer.error}`, "error");
  return answer;
}

function stateFor(key) {
  if (!ui.states.has(key)) ui.states.set(key, new Map());
  return ui.states.get(key);
}

function stateObject(state) {
  return Object.fromEntries(state.entries());
}

function channelName(id) {
  return ui.snapshot?.channels.find((c) => c.id === id)?.name;
}

function href(user, place) {
  const query = new URLSearchParams({ as: user, place });
  return `?${query}`;
}

function common() {
  const snap = ui.snapshot;
  return {
    names: snap.names,
    usergroups: snap.usergroups,
    channels: snap.channels,
    channelName,
    channelHref: (id) => href(ui.user, id),
  };
}

// The context one message or view gives its blocks: where actions go, and its state.
function contextFor(where, key) {
  const state = stateFor(key);
  return {
    ...common(),
    state,
    act: (actionId, choice) => post("action", { where, action_id: actionId, choice, state: stateObject(state) }),
    options: async (actionId, query) => {
      const answer = await post("options", { where, action_id: actionId, query });
      return answer.ok ? answer.options : [];
    },
  };
}

// -- navigation --------------------------------------------------------------------------------

function go(user, place) {
  const changed = user !== ui.user || place !== ui.place;
  ui.user = user;
  ui.place = place;
  history.replaceState(null, "", href(user, place));
  if (changed) {
    ui.drawn.clear();
    ui.openThreads.clear();
    $("messages").replaceChildren();
    ui.version = -1;
    ui.fresh = true;
    ui.poll?.abort();
  }
  if (place === HOME && ui.homeOpenedFor !== user) {
    ui.homeOpenedFor = user;
    post("home", {});
  }
  if (place !== HOME) ui.homeOpenedFor = null;
}

function drawSidebar(snap) {
  const list = $("channels");
  list.replaceChildren();
  for (const channel of snap.channels) {
    const link = el("a", "nav-link", [el("span", "hash", ["# "]), channel.name]);
    link.href = href(ui.user, channel.id);
    link.dataset.place = channel.id;
    if (channel.id === ui.place) link.setAttribute("aria-current", "page");
    link.addEventListener("click", (event) => { event.preventDefault(); go(ui.user, channel.id); });
    list.append(el("li", "", [link]));
  }
  const home = $("home-link");
  home.href = href(ui.user, HOME);
  if (ui.place === HOME) home.setAttribute("aria-current", "page");
  else home.removeAttribute("aria-current");

  const switcher = $("person");
  if (switcher.options.length !== snap.people.length) {
    switcher.replaceChildren(...snap.people.map((p) => {
      const option = el("option", "", [`${p.real_name} · ${p.title} · ${p.id}`]);
      option.value = p.id;
      return option;
    }));
  }
  switcher.value = ui.user;
}

// -- messages ------------------------------------------------------------------------------------

function time(ts) {
  const date = new Date(Number(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function body(message, ctx) {
  const parts = [];
  if (message.blocks?.length) parts.push(blocks(message.blocks, ctx));
  else parts.push(mrkdwn(message.text, ctx));
  if (message.attachments?.length) parts.push(attachments(message.attachments, ctx));
  if (message.reactions?.length) {
    parts.push(el("div", "reactions", message.reactions.map((r) =>
      el("span", "reaction", [`:${r.name}: ${r.count}`]))));
  }
  return parts;
}

function messageNode(message, channel, { reply = false } = {}) {
  const key = `${channel}/${message.ts}`;
  const ctx = contextFor({ channel, ts: message.ts }, key);
  const node = el("li", `message${message.bot ? " from-app" : ""}${reply ? " reply" : ""}${message.ephemeral ? " ephemeral" : ""}`);
  node.dataset.channel = channel;
  node.dataset.ts = message.ts;
  if (message.thread_ts && message.thread_ts !== message.ts) node.dataset.threadTs = message.thread_ts;
  if (message.ephemeral) node.dataset.ephemeral = message.ephemeral;
  const avatar = el("div", "avatar", [message.bot ? "🤖" : (message.author || "?").slice(0, 1)]);
  avatar.setAttribute("aria-hidden", "true");
  const header = el("div", "message-header", [
    el("span", "author", [message.author]),
    message.bot ? el("span", "badge", ["APP"]) : null,
    el("time", "time", [time(message.ts)]),
    message.edited ? el("span", "edited", ["(edited)"]) : null,
  ]);
  const content = el("div", "message-content", [header]);
  if (message.ephemeral) {
    content.append(el("div", "only-you", ["👁 Only visible to you"]));
    if (message.command) content.append(el("div", "command-line", [message.command]));
  }
  content.append(...body(message, ctx));
  node.append(avatar, content);
  if (!reply && !message.ephemeral && (message.replies?.length || 0) > 0) {
    node.append(threadNode(message, channel));
  }
  return node;
}

function threadNode(message, channel) {
  const count = message.replies.length;
  const open = ui.openThreads.has(message.ts);
  const toggle = el("button", "thread-toggle", [`${count} ${count === 1 ? "reply" : "replies"}`]);
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", String(open));
  const wrap = el("div", "thread", [toggle]);
  const list = el("ol", "replies");
  list.setAttribute("aria-label", `Thread of the message at ${time(message.ts)}`);
  list.hidden = !open;
  for (const reply of message.replies) list.append(messageNode(reply, channel, { reply: true }));
  const form = composer(`Reply in thread`, (text) => post("message", { channel, text, thread_ts: message.ts }));
  form.hidden = !open;
  toggle.addEventListener("click", () => {
    const now = !ui.openThreads.has(message.ts);
    if (now) ui.openThreads.add(message.ts); else ui.openThreads.delete(message.ts);
    toggle.setAttribute("aria-expanded", String(now));
    list.hidden = !now;
    form.hidden = !now;
  });
  wrap.append(list, form);
  return wrap;
}

function problemNode(problem) {
  const node = el("li", "problem");
  node.setAttribute("role", "alert");
  const what = problem.error === "slow_ack" || problem.error === "dispatch_failed"
    ? `The app did not answer ${problem.method} in time`
    : problem.error === "missing_text"
      ? `Slack warns about ${problem.method} from the app`
      : `Slack refused ${problem.method} from the app: ${problem.error}`;
  node.append(el("strong", "", [`⚠️ ${what}`]));
  if (problem.detail) node.append(el("div", "problem-detail", [problem.detail]));
  node.dataset.ts = problem.at.toFixed(6);
  node.dataset.channel = problem.channel || "";
  return node;
}

// Put `nodes` into `list` in order, moving as little as possible (so focus and open menus
// in unchanged messages survive a redraw).
function reconcile(list, nodes) {
  nodes.forEach((node, index) => {
    if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
  });
  while (list.children.length > nodes.length) list.lastElementChild.remove();
}

function cached(key, data, make) {
  const json = JSON.stringify(data);
  const old = ui.drawn.get(key);
  if (old && old.json === json) return old.node;
  const node = make();
  ui.drawn.set(key, { json, node });
  return node;
}

function drawChannel(snap) {
  const channel = snap.channels.find((c) => c.id === ui.place);
  const view = snap.channel;
  $("title").textContent = `# ${channel.name}`;
  $("topic").textContent = channel.topic;
  $("channel-view").hidden = false;
  $("home-view").hidden = true;
  const textbox = $("composer-text");
  textbox.setAttribute("aria-label", `Message #${channel.name}`);
  textbox.placeholder = `Message #${channel.name}   (try /triage help)`;
  const items = [
    ...view.messages.map((m) => ({ at: Number(m.ts), key: `m/${m.ts}`, data: [m, ui.openThreads.has(m.ts)], make: () => messageNode(m, channel.id) })),
    ...view.private.map((m) => ({ at: Number(m.ts), key: `p/${m.ts}`, data: m, make: () => messageNode(m, channel.id) })),
    ...view.problems.map((p) => ({ at: p.at, key: `x/${p.at}`, data: p, make: () => problemNode(p) })),
  ].sort((a, b) => a.at - b.at);
  const list = $("messages");
  const stuck = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  reconcile(list, items.map((item) => cached(item.key, item.data, item.make)));
  if (stuck || ui.fresh) list.scrollTop = list.scrollHeight;
  ui.fresh = false;
  const target = ui.target && list.querySelector(`li.message[data-ts="${CSS.escape(ui.target)}"]`);
  if (target) {
    target.classList.add("linked");
    target.scrollIntoView({ block: "center" });
    ui.target = null;
  }
  $("empty").hidden = items.length > 0;
}

function drawHome(snap) {
  $("title").textContent = "triage";
  $("topic").textContent = "App Home";
  $("channel-view").hidden = true;
  const home = $("home-view");
  home.hidden = false;
  const view = snap.home;
  const json = JSON.stringify(view);
  if (home.dataset.json === json) return;
  home.dataset.json = json;
  if (!view) {
    home.replaceChildren(el("p", "empty", ["Opening the app's Home tab…"]));
    return;
  }
  const ctx = contextFor({ view_id: view.id }, `view/${view.id}`);
  const wrap = el("section", "home", [blocks(view.blocks, ctx)]);
  wrap.setAttribute("aria-label", "App Home");
  wrap.dataset.viewId = view.id;
  home.replaceChildren(wrap);
}

// -- modals ----------------------------------------------------------------------------------------

function drawModals(snap) {
  const root = $("modals");
  const top = snap.modals[snap.modals.length - 1];
  const json = JSON.stringify([top, ui.modalErrors]);
  if (root.dataset.json === json) return;
  root.dataset.json = json;
  if (!top) { root.replaceChildren(); return; }
  const key = `view/${top.id}`;
  const ctx = { ...contextFor({ view_id: top.id }, key), errors: ui.modalErrors };
  const titleId = `modal-title-${top.id}`;
  const dialog = el("div", "dialog modal");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-labelledby", titleId);
  dialog.dataset.viewId = top.id;
  const title = el("h2", "dialog-title", [top.title?.text || ""]);
  title.id = titleId;
  const close = el("button", "btn close-x", ["×"]);
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  const cancel = () => { ui.modalErrors = {}; post("close", { view_id: top.id }); };
  close.addEventListener("click", cancel);
  const footer = el("div", "dialog-actions");
  const closeButton = el("button", "btn", [top.close?.text || "Cancel"]);
  closeButton.type = "button";
  closeButton.addEventListener("click", cancel);
  footer.append(closeButton);
  if (top.submit) {
    const submit = el("button", "btn primary", [top.submit.text]);
    submit.type = "button";
    submit.addEventListener("click", async () => {
      const answer = await post("submit", { view_id: top.id, state: stateObject(stateFor(key)) });
      ui.modalErrors = answer.ok ? answer.errors || {} : {};
      if (snap === ui.snapshot) { root.dataset.json = ""; drawModals(ui.snapshot); }
    });
    footer.append(submit);
  }
  dialog.append(el("div", "dialog-header", [title, close]), el("div", "dialog-body", [blocks(top.blocks, ctx)]), footer);
  const overlay = el("div", "overlay", [dialog]);
  overlay.addEventListener("keydown", (event) => { if (event.key === "Escape") cancel(); });
  root.replaceChildren(overlay);
  dialog.querySelector("input, textarea, select, button.select")?.focus();
}

function drawProblems(snap) {
  const list = $("problems");
  list.replaceChildren(...snap.problems.map(problemNode));
  list.hidden = snap.problems.length === 0;
}

function draw(snap) {
  ui.snapshot = snap;
  if (!ui.place || (ui.place !== HOME && !snap.channels.some((c) => c.id === ui.place))) {
    go(ui.user, snap.channels[0]?.id || HOME);
  }
  document.title = `${ui.place === HOME ? "triage (App Home)" : `#${channelName(ui.place)}`} · ${snap.team.name}`;
  drawSidebar(snap);
  drawProblems(snap);
  if (snap.place === HOME && ui.place === HOME) drawHome(snap);
  else if (snap.channel && snap.place === ui.place) drawChannel(snap);
  drawModals(snap);
  document.body.dataset.version = String(snap.version);
  document.body.dataset.user = ui.user;
}

// -- the composer ----------------------------------------------------------------------------------

function composer(label, send) {
  const form = el("form", "composer");
  const box = el("textarea", "composer-text");
  box.rows = 1;
  box.setAttribute("aria-label", label);
  box.placeholder = label;
  const button = el("button", "btn primary send", ["Send"]);
  button.type = "submit";
  form.append(box, button);
  const submit = async (event) => {
    event.preventDefault();
    const text = box.value;
    if (!text.trim()) return;
    box.value = "";
    button.disabled = true;
    try { await send(text); } finally { button.disabled = false; box.focus(); }
  };
  form.addEventListener("submit", submit);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) submit(event);
  });
  return form;
}

// -- polling --------------------------------------------------------------------------------------

async function loop() {
  for (;;) {
    const controller = new AbortController();
    ui.poll = controller;
    const query = new URLSearchParams({ user: ui.user, place: ui.place || "", after: String(ui.version) });
    try {
      const response = await fetch(`/sandbox/state?${query}`, { signal: controller.signal });
      const snap = await response.json();
      $("offline").hidden = true;
      if (!ui.user) { ui.user = snap.people[0]?.id || ""; go(ui.user, ui.place); }
      if (snap.me === ui.user && (snap.place === ui.place || !ui.place)) {
        ui.version = snap.version;
        draw(snap);
      }
    } catch (error) {
      if (error.name === "AbortError") continue;
      $("offline").hidden = false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function start() {
  const main = $("composer-slot");
  const form = composer("Message", (text) => post("message", { channel: ui.place, text }));
  form.querySelector("textarea").id = "composer-text";
  main.append(form);
  $("person").addEventListener("change", (event) => go(event.target.value, ui.place));
  $("home-link").addEventListener("click", (event) => { event.preventDefault(); go(ui.user, HOME); });
  if (ui.user) go(ui.user, ui.place);
  loop();
}

start();
