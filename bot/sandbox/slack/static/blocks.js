// Block Kit drawn as Slack draws it, with its interactive elements wired to the app.
//
// `ctx` is one message or view: ctx.act(actionId, choice) sends a block action,
// ctx.options(actionId, query) loads an external select's options, ctx.state holds the
// stateful elements' current values (sent with every action and on submit), ctx.errors
// maps block ids to a modal's validation errors.

import { mrkdwn, plainText, textObject, emojify, decode } from "./mrkdwn.js";

let uid = 0;
const nextId = (prefix) => `${prefix}-${(uid += 1)}`;

function el(tag, className, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function button(label, className, onClick) {
  const node = el("button", className, [label]);
  node.type = "button";
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

// -- confirmation dialogs -------------------------------------------------------------------

export function confirmDialog(confirm, ctx) {
  return new Promise((resolve) => {
    const titleId = nextId("confirm-title");
    const dialog = el("div", "dialog confirm");
    dialog.setAttribute("role", "alertdialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", titleId);
    const title = el("h2", "dialog-title", [plainText(confirm.title)]);
    title.id = titleId;
    const done = (answer) => { overlay.remove(); resolve(answer); };
    const deny = button(plainText(confirm.deny) || "Cancel", "btn", () => done(false));
    const ok = button(plainText(confirm.confirm) || "Confirm",
      `btn ${confirm.style === "danger" ? "danger" : "primary"}`, () => done(true));
    dialog.append(title, el("div", "dialog-body", [textObject(confirm.text, ctx)]),
      el("div", "dialog-actions", [deny, ok]));
    const overlay = el("div", "overlay", [dialog]);
    overlay.addEventListener("keydown", (event) => { if (event.key === "Escape") done(false); });
    document.body.append(overlay);
    ok.focus();
  });
}

async function confirmed(element, ctx) {
  return !element.confirm || confirmDialog(element.confirm, ctx);
}

// -- menus: static and external selects, overflow ---------------------------------------------

function allOptions(element) {
  const groups = element.option_groups
    ? element.option_groups.map((g) => ({ label: plainText(g.label), options: g.options || [] }))
    : [{ label: null, options: element.options || [] }];
  return groups;
}

function menu(element, ctx, { external = false, overflow = false } = {}) {
  const wrap = el("div", "menu");
  const current = ctx.state.get(element.action_id) ?? element.initial_option ?? null;
  const placeholder = plainText(element.placeholder) || (overflow ? "More actions" : "Select an item");
  const trigger = button(overflow ? "⋯" : (current ? plainText(current.text) : placeholder),
    overflow ? "btn overflow" : "btn select");
  trigger.setAttribute("aria-haspopup", "listbox");
  trigger.setAttribute("aria-expanded", "false");
  if (overflow) trigger.setAttribute("aria-label", placeholder);
  let popup = null;

  const close = () => {
    if (!popup) return;
    popup.remove();
    popup = null;
    trigger.setAttribute("aria-expanded", "false");
  };

  const pick = async (option) => {
    close();
    if (!(await confirmed(element, ctx))) return;
    if (!overflow) {
      ctx.state.set(element.action_id, { text: option.text, value: option.value });
      trigger.textContent = plainText(option.text);
    }
    ctx.act(element.action_id, { text: plainText(option.text), value: option.value });
  };

  const open = () => {
    if (popup) { close(); return; }
    const listId = nextId("listbox");
    popup = el("div", "popup");
    const search = el("input", "search");
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-label", `Search: ${placeholder}`);
    search.setAttribute("aria-controls", listId);
    search.setAttribute("aria-expanded", "true");
    search.setAttribute("aria-autocomplete", "list");
    search.placeholder = external ? "Type to search" : "Filter";
    const list = el("ul", "listbox");
    list.id = listId;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", placeholder);
    const status = el("p", "menu-status");
    status.setAttribute("role", "status");

    const draw = (groups) => {
      list.replaceChildren();
      let shown = 0;
      for (const group of groups) {
        if (group.label && group.options.length) list.append(el("li", "group-label", [group.label]));
        for (const option of group.options) {
          const item = el("li", "option", [plainText(option.text)]);
          item.setAttribute("role", "option");
          item.tabIndex = -1;
          if (option.description) item.append(el("span", "option-description", [plainText(option.description)]));
          item.addEventListener("click", () => pick(option));
          item.addEventListener("keydown", (event) => { if (event.key === "Enter") pick(option); });
          list.append(item);
          shown += 1;
        }
      }
      status.textContent = shown ? "" : "No results";
    };

    let timer = null;
    let asked = 0;
    const load = async (query) => {
      const ticket = (asked += 1);
      status.textContent = "Loading…";
      const options = await ctx.options(element.action_id, query);
      if (ticket === asked && popup) draw([{ label: null, options }]);
    };
    const filter = () => {
      const wanted = search.value.trim().toLowerCase();
      draw(allOptions(element).map((g) => ({
        label: g.label,
        options: g.options.filter((o) => plainText(o.text).toLowerCase().includes(wanted)),
      })));
    };
    search.addEventListener("input", () => {
      if (!external) { filter(); return; }
      clearTimeout(timer);
      const minimum = element.min_query_length ?? 3;
      timer = setTimeout(() => {
        if (search.value.length >= minimum) load(search.value);
      }, 200);
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { close(); trigger.focus(); }
      if (event.key === "ArrowDown") list.querySelector("[role=option]")?.focus();
      if (event.key === "Enter") { event.preventDefault(); list.querySelector("[role=option]")?.click(); }
    });
    popup.append(search, status, list);
    wrap.append(popup);
    trigger.setAttribute("aria-expanded", "true");
    if (external) {
      if ((element.min_query_length ?? 3) === 0) load("");
      else status.textContent = `Type at least ${element.min_query_length ?? 3} characters`;
    } else {
      draw(allOptions(element));
    }
    search.focus();
  };
  trigger.addEventListener("click", open);
  wrap.append(trigger);
  return wrap;
}

// -- other elements ---------------------------------------------------------------------------

function buttonElement(element, ctx) {
  const style = element.style ? ` ${element.style}` : "";
  const node = button(plainText(element.text), `btn${style}`, async () => {
    if (!(await confirmed(element, ctx))) return;
    if (element.url) window.open(element.url, "_blank", "noopener");
    ctx.act(element.action_id, null);
  });
  if (element.accessibility_label) node.setAttribute("aria-label", element.accessibility_label);
  return node;
}

function choiceList(element, ctx, kind) {
  const group = el("div", `choices ${kind}`);
  group.setAttribute("role", kind === "radio" ? "radiogroup" : "group");
  const name = nextId(kind);
  const picked = new Set(
    [ctx.state.get(element.action_id) ?? element.initial_option ?? element.initial_options ?? []]
      .flat().map((o) => o?.value).filter(Boolean));
  for (const option of element.options || []) {
    const input = el("input");
    input.type = kind;
    input.name = name;
    input.value = option.value;
    input.checked = picked.has(option.value);
    input.addEventListener("change", () => {
      const chosen = [...group.querySelectorAll("input:checked")].map((i) => i.value);
      const value = kind === "radio" ? chosen[0] : chosen;
      ctx.state.set(element.action_id, value);
      ctx.act(element.action_id, value);
    });
    const label = el("label", "choice", [input, textObject(option.text, ctx)]);
    group.append(label);
  }
  return group;
}

function textInput(element, ctx, label) {
  const multiline = element.type === "plain_text_input" && element.multiline;
  const input = el(multiline ? "textarea" : "input", "text-input");
  if (!multiline) input.type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[element.type] || "text";
  input.value = ctx.state.get(element.action_id) ?? element.initial_value ?? "";
  if (element.placeholder) input.placeholder = plainText(element.placeholder);
  if (element.max_length) input.maxLength = element.max_length;
  if (label) input.setAttribute("aria-label", label);
  input.addEventListener("input", () => ctx.state.set(element.action_id, input.value));
  if (ctx.dispatch || element.dispatch_action) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !multiline) ctx.act(element.action_id, input.value);
    });
  }
  return input;
}

function picker(element, ctx, type, initial) {
  const input = el("input", "text-input");
  input.type = type;
  input.value = ctx.state.get(element.action_id) ?? element[initial] ?? "";
  input.setAttribute("aria-label", plainText(element.placeholder) || type);
  input.addEventListener("change", () => {
    ctx.state.set(element.action_id, input.value);
    ctx.act(element.action_id, input.value);
  });
  return input;
}

function entitySelect(element, ctx, kind) {
  const options = kind === "users"
    ? Object.entries(ctx.names || {}).map(([id, name]) => ({ text: { type: "plain_text", text: name }, value: id }))
    : (ctx.channels || []).map((c) => ({ text: { type: "plain_text", text: `#${c.name}` }, value: c.id }));
  return menu({ ...element, options }, ctx);
}

function imagePlaceholder(obj, small) {
  const node = el("div", small ? "image small" : "image", [small ? "🖼" : `🖼  ${obj.alt_text || "image"}`]);
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", obj.alt_text || "image");
  if (!small && obj.title) node.append(el("div", "image-title", [plainText(obj.title)]));
  return node;
}

export function element(element, ctx, label) {
  switch (element.type) {
    case "button": return buttonElement(element, ctx);
    case "static_select": return menu(element, ctx);
    case "external_select": return menu(element, ctx, { external: true });
    case "overflow": return menu(element, ctx, { overflow: true });
    case "users_select": return entitySelect(element, ctx, "users");
    case "conversations_select":
    case "channels_select": return entitySelect(element, ctx, "channels");
    case "radio_buttons": return choiceList(element, ctx, "radio");
    case "checkboxes": return choiceList(element, ctx, "checkbox");
    case "plain_text_input":
    case "email_text_input":
    case "url_text_input":
    case "number_input": return textInput(element, ctx, label);
    case "datepicker": return picker(element, ctx, "date", "initial_date");
    case "timepicker": return picker(element, ctx, "time", "initial_time");
    case "image": return imagePlaceholder(element, true);
    default: return el("span", "unsupported", [`[${element.type} is not drawn in the sandbox]`]);
  }
}

// -- rich text -------------------------------------------------------------------------------

function richInline(part, ctx) {
  let node;
  switch (part.type) {
    case "text": node = document.createTextNode(part.text); break;
    case "link": node = el("a", "link", [part.text || part.url]); node.href = part.url; node.target = "_blank"; node.rel = "noopener noreferrer"; break;
    case "user": node = el("span", "mention", ["@" + (ctx.names?.[part.user_id] ?? part.user_id)]); break;
    case "channel": node = el("span", "mention", ["#" + (ctx.channelName?.(part.channel_id) ?? part.channel_id)]); break;
    case "usergroup": node = el("span", "mention", ["@" + (ctx.usergroups?.[part.usergroup_id] ?? part.usergroup_id)]); break;
    case "broadcast": node = el("span", "mention broadcast", ["@" + part.range]); break;
    case "emoji": node = document.createTextNode(part.unicode ? String.fromCodePoint(...part.unicode.split("-").map((h) => parseInt(h, 16))) : emojify(`:${part.name}:`)); break;
    case "date": node = el("time", "date", [part.fallback || new Date(part.timestamp * 1000).toLocaleString()]); break;
    default: node = document.createTextNode("");
  }
  const style = part.style || {};
  for (const [flag, tag] of [["code", "code"], ["strike", "s"], ["italic", "i"], ["bold", "b"]]) {
    if (style[flag]) node = el(tag, "", [node]);
  }
  return node;
}

function richPart(part, ctx) {
  const inner = (part.elements || []).map((p) => (p.type?.startsWith("rich_text_") ? richPart(p, ctx) : richInline(p, ctx)));
  switch (part.type) {
    case "rich_text_quote": return el("blockquote", "quote", inner);
    case "rich_text_preformatted": return el("pre", "pre", inner);
    case "rich_text_list": {
      const list = el(part.style === "ordered" ? "ol" : "ul", `rich-list indent-${part.indent || 0}`);
      for (const item of inner) list.append(el("li", "", [item]));
      return list;
    }
    default: return el("div", "rich-section", inner);
  }
}

// -- blocks ----------------------------------------------------------------------------------

function block(blockObj, ctx) {
  const kind = blockObj.type;
  const node = el("div", `block block-${kind}`);
  if (blockObj.block_id) node.dataset.blockId = blockObj.block_id;
  switch (kind) {
    case "section": {
      const body = el("div", "section-body");
      if (blockObj.text) body.append(textObject(blockObj.text, ctx));
      if (blockObj.fields) body.append(el("div", "fields", blockObj.fields.map((f) => el("div", "field", [textObject(f, ctx)]))));
      node.append(body);
      if (blockObj.accessory) node.append(el("div", "accessory", [element(blockObj.accessory, ctx)]));
      break;
    }
    case "header": {
      const heading = el("h3", "header", [plainText(blockObj.text)]);
      node.append(heading);
      break;
    }
    case "context":
      for (const item of blockObj.elements || []) {
        node.append(item.type === "image" ? imagePlaceholder(item, true) : el("span", "context-item", [textObject(item, ctx)]));
      }
      break;
    case "actions":
      for (const item of blockObj.elements || []) node.append(element(item, ctx));
      break;
    case "divider":
      node.append(el("hr"));
      break;
    case "image":
      node.append(imagePlaceholder(blockObj, false));
      break;
    case "rich_text":
      for (const part of blockObj.elements || []) node.append(richPart(part, ctx));
      break;
    case "markdown":
      node.append(mrkdwn(blockObj.text || "", ctx));
      break;
    case "input": {
      const labelText = plainText(blockObj.label);
      const labelId = nextId("label");
      const label = el("div", "input-label", [labelText, blockObj.optional ? el("span", "optional", [" (optional)"]) : null]);
      label.id = labelId;
      node.append(label);
      if (blockObj.dispatch_action) ctx = { ...ctx, dispatch: true };
      const control = element(blockObj.element || {}, ctx, labelText);
      control.setAttribute?.("aria-labelledby", labelId);
      node.append(control);
      if (blockObj.hint) node.append(el("div", "hint", [plainText(blockObj.hint)]));
      const blockId = blockObj.block_id;
      const error = blockId && ctx.errors?.[blockId];
      if (error) {
        const note = el("div", "input-error", [decode(error)]);
        note.setAttribute("role", "alert");
        node.append(note);
      }
      break;
    }
    default:
      node.append(el("span", "unsupported", [`[${kind} block is not drawn in the sandbox]`]));
  }
  return node;
}

export function blocks(list, ctx) {
  const root = el("div", "blocks");
  (list || []).forEach((b, index) => {
    const node = block(b.block_id ? b : { ...b, block_id: b.type === "input" ? `blk${index}` : undefined }, ctx);
    root.append(node);
  });
  return root;
}

// Legacy attachments (no blocks of their own are sent by the bot; drawn simply if they come).
export function attachments(list, ctx) {
  const root = el("div", "attachments");
  for (const item of list || []) {
    const bar = el("div", "attachment");
    if (item.color) bar.style.borderLeftColor = item.color.startsWith("#") ? item.color : `#${item.color}`;
    if (item.title) bar.append(el("div", "attachment-title", [item.title]));
    if (item.text) bar.append(mrkdwn(item.text, ctx));
    if (item.blocks) bar.append(blocks(item.blocks, ctx));
    root.append(bar);
  }
  return root;
}
