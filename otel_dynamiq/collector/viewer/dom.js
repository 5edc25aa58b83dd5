// Building the page from run data: every value becomes a text node or an attribute value, never markup.

// Bidirectional controls reorder the text around them ("\u202eMLL evil" reads as "live LLM"), and invisible ones
// hide text or tell two names apart that look the same (a zero-width space, Unicode tag characters smuggling
// words past a reader): every text drawn from run data shows each of them as its code point, so they reorder
// and hide nothing. That is every format character (Cf, bidi controls among them) and every control character
// but tab and the line ends. A zero-width joiner inside an emoji is shown too: here seeing is worth more.
const HIDDEN_CHARACTERS = /[\p{Cf}\p{Cc}]/gu;
const LAID_OUT = new Set(["\t", "\n", "\r"]);

export function visible(text) {
  return text.replace(HIDDEN_CHARACTERS, (character) =>
    LAID_OUT.has(character) ? character : `⟨U+${character.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`,
  );
}

const SHOWN_ATTRIBUTES = new Set(["title", "aria-label", "placeholder", "alt"]);

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "style") Object.assign(element.style, value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, SHOWN_ATTRIBUTES.has(key) ? visible(String(value)) : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : visible(String(child))); // a string is appended as text
  }
  return element;
}

export function clear(element, ...children) {
  element.replaceChildren();
  for (const child of children.flat(Infinity)) if (child) element.append(child);
  return element;
}

export const number = new Intl.NumberFormat("en-US");

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 0) return "ends before it starts";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function clock(ms) {
  if (!Number.isFinite(ms)) return "–";
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function cost(usd) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return null;
  if (usd !== 0 && Math.abs(usd) < SMALLEST_COST) return `<$${SMALLEST_COST.toFixed(9)}`;
  const shown = Number(usd.toPrecision(3)); // 0.00999999 rounds to 0.0100, and is written as a cent is
  return `$${Math.abs(shown) < 0.01 ? plainDigits(shown, 3) : usd.toFixed(4)}`;
}

// Below a billionth of a dollar a cost is written as "<$0.000000001": written out, it would be a long row
// of zeros that reads as nothing and widens its column.
const SMALLEST_COST = 1e-9;

// A small amount to ``significant`` digits, always written out: toPrecision writes 1e-7 as "1.00e-7", which
// reads as nothing to most people looking at a price.
export function plainDigits(value, significant) {
  if (value === 0) return (0).toFixed(significant - 1);
  const decimals = Math.min(20, Math.max(0, significant - 1 - Math.floor(Math.log10(Math.abs(value)))));
  return value.toFixed(decimals);
}

// A view that rewrites the address itself (history.pushState fires no hashchange) says so with this event, so
// the header's links can carry the new time range along.
export const ADDRESS_CHANGED = "viewer:address";

export function addressChanged() {
  window.dispatchEvent(new Event(ADDRESS_CHANGED));
}

// What a trace, turn or run is called in a heading or a row; a name of only spaces reads as none.
export function shownName(name) {
  return name && name.trim() ? name : "(unnamed)";
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

// A button that copies a value (an id) as it is, and says so for a moment: "copied", announced to screen readers
// by the status beside it. The clipboard API needs a secure context (127.0.0.1 is one, a keyed collector on a LAN
// address over http is not): there, the browser's copy command on a selected text field does it.
const COPIED_MS = 1500;

export function copyButton(value, what) {
  const status = h("span", { class: "copy-status", role: "status" });
  const button = h("button", { class: "copy", type: "button", "aria-label": `copy ${what}`, title: `copy ${what}` }, "copy");
  let timer = null;
  button.addEventListener("click", async (event) => {
    event.stopPropagation(); // a copy button in a row never selects the row
    const copied = await copyText(String(value));
    status.textContent = copied ? "copied" : "could not copy";
    button.classList.toggle("done", copied);
    clearTimeout(timer);
    timer = setTimeout(() => {
      status.textContent = "";
      button.classList.remove("done");
    }, COPIED_MS);
  });
  return h("span", { class: "copy-box" }, button, status);
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (refused) {
    // no permission: try the older way
  }
  const before = document.activeElement; // the field takes the focus to be selected: it goes back after
  const field = h("textarea", { class: "copy-field", readonly: "readonly", "aria-hidden": "true" });
  field.value = text;
  document.body.append(field);
  field.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch (unsupported) {
    done = false;
  }
  field.remove();
  if (before && before.focus) before.focus({ preventScroll: true });
  return done;
}

// Long text shows its first lines; the rest is one click away, so a 4 MiB string costs nothing until asked for.
const FOLD_LINES = 14;
const FOLD_CHARS = 1600;

function preview(text, lines, chars) {
  let end = 0;
  for (let line = 0; line < lines && end !== -1 && end < chars; line += 1) end = text.indexOf("\n", end + 1);
  const cut = Math.min(end === -1 ? text.length : end, chars);
  return cut < text.length ? text.slice(0, cut) : null;
}

// Text past this many characters is laid out in blocks the browser skips while they are off screen
// (content-visibility), so "show all" on a 4 MiB value does not hold the page for a second.
const BLOCK_CHARS = 64 * 1024;

export function setLongText(pre, text) {
  if (text.length <= BLOCK_CHARS * 2) {
    pre.textContent = visible(text);
    return;
  }
  const blocks = [];
  for (let start = 0; start < text.length; ) {
    let end = Math.min(text.length, start + BLOCK_CHARS);
    const newline = text.lastIndexOf("\n", end);
    if (end < text.length && newline > start) end = newline + 1;
    const piece = text.slice(start, end);
    const lines = piece.split("\n").length;
    blocks.push(h("span", { class: "block", style: { containIntrinsicSize: `auto ${lines * 19}px` } }, piece));
    start = end;
  }
  pre.replaceChildren(...blocks);
}

export function foldedText(text, options = {}) {
  const value = String(text);
  const pre = h("pre", { class: `text ${options.class || ""}` });
  const shown = preview(value, options.lines || FOLD_LINES, options.chars || FOLD_CHARS);
  if (shown === null) {
    pre.textContent = visible(value);
    return pre;
  }
  pre.textContent = visible(shown) + " …";
  const more = h("button", { class: "more", type: "button" }, `show all (${number.format(value.length)} characters)`);
  more.addEventListener("click", () => {
    setLongText(pre, value);
    more.remove();
  });
  return h("div", { class: "fold" }, pre, more);
}

// Any JSON value in its shape: objects as keys and values, lists numbered; big containers a page at a time,
// nested ones rendered only when opened.
const PAGE = 100;

function entriesOf(value) {
  return Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
}

function isContainer(value) {
  return value !== null && typeof value === "object";
}

function sizeLabel(value) {
  const count = Array.isArray(value) ? value.length : Object.keys(value).length;
  return Array.isArray(value) ? `[${number.format(count)} items]` : `{${number.format(count)} keys}`;
}

export function valueView(value, depth = 0) {
  if (value === null || value === undefined) return h("span", { class: "v-null" }, "null");
  if (typeof value === "string") {
    return value.length > 120 || value.includes("\n") ? foldedText(value) : h("span", { class: "v-str" }, value);
  }
  if (!isContainer(value)) return h("span", { class: `v-${typeof value}` }, String(value));
  const entries = entriesOf(value);
  if (entries.length === 0) return h("span", { class: "v-null" }, Array.isArray(value) ? "[]" : "{}");
  const list = h("dl", { class: "kv" });
  let shown = 0;
  const more = h("button", { class: "more", type: "button" });
  const showPage = () => {
    for (const [key, item] of entries.slice(shown, shown + PAGE)) {
      list.append(h("dt", null, String(key)), h("dd", null, nested(item, depth + 1)));
    }
    shown = Math.min(entries.length, shown + PAGE);
    const left = entries.length - shown;
    if (left > 0) more.textContent = `show ${number.format(Math.min(PAGE, left))} more of ${number.format(left)}`;
    else more.remove();
  };
  more.addEventListener("click", showPage);
  const wrapper = h("div", { class: "value" }, list);
  showPage();
  if (shown < entries.length) wrapper.append(more);
  return wrapper;
}

function nested(value, depth) {
  if (!isContainer(value) || entriesOf(value).length === 0) return valueView(value, depth);
  const details = h("details", null, h("summary", null, sizeLabel(value)));
  let rendered = false;
  details.addEventListener("toggle", () => {
    if (details.open && !rendered) {
      rendered = true;
      details.append(valueView(value, depth));
    }
  });
  details.open = depth < 3 && entriesOf(value).length <= 12;
  return details;
}

// A section whose content is built only when opened (metadata, raw JSON).
export function lazySection(title, build, open = false) {
  const details = h("details", { class: "section" }, h("summary", null, title));
  let built = false;
  details.addEventListener("toggle", () => {
    if (details.open && !built) {
      built = true;
      details.append(build());
    }
  });
  details.open = open;
  return details;
}

// A list drawn a page at a time: a run of 40,000 messages or 100,000 tags opens as fast as a short one,
// and the rest is one click away ("show more"), a page per click.
export const LIST_PAGE = 100;

export function pagedList(container, items, render, page = LIST_PAGE) {
  let shown = 0;
  const more = h("button", { class: "more", type: "button" });
  const showPage = () => {
    const end = Math.min(items.length, shown + page);
    for (let index = shown; index < end; index += 1) {
      const drawn = render(items[index], index);
      if (drawn) container.append(...[drawn].flat(Infinity).filter(Boolean));
    }
    shown = end;
    const left = items.length - shown;
    if (left > 0) more.textContent = `show ${number.format(Math.min(page, left))} more of ${number.format(left)}`;
    else more.remove();
  };
  more.addEventListener("click", showPage);
  showPage();
  return shown < items.length ? [container, more] : [container];
}
