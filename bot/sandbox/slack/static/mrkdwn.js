// Slack's mrkdwn and plain text, drawn as DOM nodes (never innerHTML: ticket text is user text).
//
// Supported as Slack draws them: *bold*, _italic_, ~strike~, `code`, ```preformatted```,
// "> " quotes, <https://link|text>, <mailto:…>, <@U…> people, <#C…> channels,
// <!subteam^S…> groups, <!here>/<!channel>/<!everyone>, <!date^…^…|fallback>, :emoji:
// shortcodes, and the &amp; &lt; &gt; entities Slack escapes.

export const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️",
  rotating_light: "🚨", information_source: "ℹ️", inbox_tray: "📥", mag: "🔍",
  mag_right: "🔎", eyes: "👀", new: "🆕", label: "🏷️", tada: "🎉",
  leftwards_arrow_with_hook: "↩️", large_green_circle: "🟢", red_circle: "🔴",
  large_yellow_circle: "🟡", double_vertical_bar: "⏸️", arrow_forward: "▶️",
  bell: "🔔", hourglass: "⌛", hourglass_flowing_sand: "⏳", robot_face: "🤖",
  memo: "📝", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉",
  bar_chart: "📊", point_right: "👉", thumbsup: "👍", "+1": "👍", thumbsdown: "👎",
  "-1": "👎", wave: "👋", bulb: "💡", gear: "⚙️", lock: "🔒", clock1: "🕐",
  calendar: "📅", busts_in_silhouette: "👥", bust_in_silhouette: "👤",
  speech_balloon: "💬", mailbox: "📫", package: "📦", credit_card: "💳",
  moneybag: "💰", sparkles: "✨", fire: "🔥", question: "❓", exclamation: "❗",
  arrows_counterclockwise: "🔄", hammer_and_wrench: "🛠️", zap: "⚡", star: "⭐",
};

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const SAFE_SCHEMES = /^(https?:|mailto:)/i;
const PUNCT_BEFORE = /[\s(\[{"'>~*_]/;
const PUNCT_AFTER = /[\s.,;:!?)\]}"'<&~*_]/;

export function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] ?? whole);
}

function el(tag, className, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child);
  return node;
}

function ordinal(n) {
  const s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function clock(date, seconds) {
  let hours = date.getHours();
  const suffix = hours < 12 ? "AM" : "PM";
  hours = hours % 12 || 12;
  const mm = String(date.getMinutes()).padStart(2, "0");
  const ss = seconds ? ":" + String(date.getSeconds()).padStart(2, "0") : "";
  return `${hours}:${mm}${ss} ${suffix}`;
}

function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const future = seconds < 0, span = Math.abs(seconds);
  const say = (n, unit) => {
    const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
    return future ? `in ${words}` : `${words} ago`;
  };
  if (span < 60) return future ? "in a few seconds" : "just now";
  if (span < 3600) return say(Math.floor(span / 60), "minute");
  if (span < 86400) return say(Math.floor(span / 3600), "hour");
  if (span < 86400 * 30) return say(Math.floor(span / 86400), "day");
  if (span < 86400 * 365) return say(Math.floor(span / (86400 * 30)), "month");
  return say(Math.floor(span / (86400 * 365)), "year");
}

function relativeDay(date) {
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((start(date) - start(new Date())) / 86400000);
  return { 0: "Today", [-1]: "Yesterday", 1: "Tomorrow" }[days] ?? null;
}

// <!date^epoch^format|fallback>: each reader sees the moment in their own time zone.
export function formatDate(epoch, format) {
  const date = new Date(Number(epoch) * 1000);
  if (Number.isNaN(date.getTime())) return null;
  const month = MONTHS[date.getMonth()], year = date.getFullYear(), day = date.getDate();
  const parts = {
    date_num: `${year}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(day).padStart(2, "0")}`,
    date: `${month} ${ordinal(day)}, ${year}`,
    date_short: `${month.slice(0, 3)} ${day}, ${year}`,
    date_long: `${DAYS[date.getDay()]}, ${month} ${ordinal(day)}, ${year}`,
    time: clock(date, false),
    time_secs: clock(date, true),
    ago: ago(date),
  };
  const relative = relativeDay(date);
  parts.date_pretty = relative ?? parts.date;
  parts.date_short_pretty = relative ?? parts.date_short;
  parts.date_long_pretty = relative ?? parts.date_long;
  return format.replace(/\{(\w+)\}/g, (whole, token) => parts[token] ?? whole);
}

function link(href, label) {
  if (!SAFE_SCHEMES.test(href)) return document.createTextNode(label);
  const anchor = el("a", "link", [label]);
  anchor.href = href;
  if (!href.startsWith(location.origin + "/")) { // the sandbox's own permalinks stay in the tab
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
  }
  return anchor;
}

// One <…> token: a link, a mention, a date or a special mention.
function token(inner, ctx) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return el("span", "mention", ["@" + (ctx.names?.[id] ?? (label || id))]);
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = ctx.channelName?.(id) ?? label ?? id;
    const anchor = el("a", "mention channel-link", ["#" + name]);
    anchor.href = ctx.channelHref ? ctx.channelHref(id) : "#";
    return anchor;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    const name = label ? label.replace(/^@/, "") : (ctx.usergroups?.[id] ?? id);
    return el("span", "mention", ["@" + name]);
  }
  if (target.startsWith("!date^")) {
    const [epoch, format, url] = target.slice("!date^".length).split("^");
    const shown = formatDate(epoch, format ?? "{date}") ?? decode(label ?? "");
    const node = url ? link(decode(url), shown) : el("time", "date", [shown]);
    if (!url) node.dateTime = new Date(Number(epoch) * 1000).toISOString();
    node.title = decode(label ?? "");
    return node;
  }
  if (["!here", "!channel", "!everyone"].includes(target)) {
    return el("span", "mention broadcast", ["@" + target.slice(1)]);
  }
  if (SAFE_SCHEMES.test(target)) return link(decode(target), decode(label ?? target));
  return document.createTextNode(decode(inner));
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function plainRun(text) {
  return document.createTextNode(emojify(decode(text)));
}

const STYLES = { "*": "b", _: "i", "~": "s" };

// Inline mrkdwn on one line: code spans, tokens, then emphasis around what is left.
function inline(text, ctx) {
  const out = [];
  let plain = "";
  const flush = () => { if (plain) { out.push(plainRun(plain)); plain = ""; } };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "`") {
      const end = text.indexOf("`", i + 1);
      if (end > i + 1) {
        flush();
        out.push(el("code", "", [decode(text.slice(i + 1, end))]));
        i = end + 1;
        continue;
      }
    } else if (ch === "<") {
      const end = text.indexOf(">", i + 1);
      if (end > i + 1) {
        flush();
        out.push(token(text.slice(i + 1, end), ctx));
        i = end + 1;
        continue;
      }
    } else if (STYLES[ch] && (i === 0 || PUNCT_BEFORE.test(text[i - 1])) && text[i + 1] && !/\s/.test(text[i + 1])) {
      const end = closing(text, ch, i + 1);
      if (end > 0) {
        flush();
        out.push(el(STYLES[ch], "", inline(text.slice(i + 1, end), ctx)));
        i = end + 1;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

function closing(text, marker, from) {
  for (let j = from + 1; j < text.length; j += 1) {
    if (text[j] === "<") { const end = text.indexOf(">", j); if (end > 0) { j = end; continue; } }
    if (text[j] === "`") { const end = text.indexOf("`", j + 1); if (end > 0) { j = end; continue; } }
    if (text[j] === marker && !/\s/.test(text[j - 1]) && (j + 1 === text.length || PUNCT_AFTER.test(text[j + 1]))) {
      return j;
    }
  }
  return -1;
}

// A whole mrkdwn text: ``` blocks, runs of "> " lines as one quote, then lines.
export function mrkdwn(text, ctx = {}) {
  const root = el("div", "mrkdwn");
  const pieces = String(text ?? "").split("```");
  const lastClosed = pieces.length % 2 === 1;
  pieces.forEach((piece, index) => {
    const fenced = index % 2 === 1 && (lastClosed || index < pieces.length - 1);
    if (fenced) {
      root.append(el("pre", "pre", [decode(piece.replace(/^\n/, ""))]));
      return;
    }
    if (index % 2 === 1) piece = "```" + piece; // an unclosed fence is plain text
    let quote = null;
    for (const line of piece.split("\n")) {
      const marker = /^(>|&gt;) ?/.exec(line);
      const row = el("div", "line", inline(marker ? line.slice(marker[0].length) : line, ctx));
      if (marker) {
        if (!quote) { quote = el("blockquote", "quote"); root.append(quote); }
        quote.append(row);
      } else {
        quote = null;
        root.append(row);
      }
    }
  });
  return root;
}

// A text object: mrkdwn, or plain_text (emoji shortcodes only, when asked).
export function textObject(obj, ctx = {}) {
  if (!obj) return document.createTextNode("");
  if (obj.type === "mrkdwn") return obj.verbatim ? el("span", "", [decode(obj.text)]) : mrkdwn(obj.text, ctx);
  return el("span", "plain", [obj.emoji === false ? obj.text : emojify(obj.text)]);
}

export function plainText(obj) {
  if (!obj) return "";
  return obj.emoji === false ? obj.text : emojify(obj.text);
}
