// A run's panel, by what the run is: an LLM call as a chat with its usage, a tool or retriever as its
// input and output, an error with its traceback, its executions (retries), and the raw JSON.
import { api } from "./api.js";
import { badge, clear, clock, copyButton, cost, duration, foldedText, h, lazySection, number, pagedList, setLongText, shownName, valueView, visible } from "./dom.js";
import { statusBadge } from "./list.js";

const RAW_PREVIEW_CHARS = 200000;

function time(value) {
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function spanOf(item) {
  const start = time(item.start_time);
  const end = time(item.end_time);
  return start !== null && end !== null ? end - start : null;
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

function nodeOf(run) {
  return isObject(run.metadata) && isObject(run.metadata.node) ? run.metadata.node : {};
}

function usageOf(run) {
  return isObject(run.metadata) && isObject(run.metadata.usage) ? run.metadata.usage : null;
}

// A call described by two spans (an LLM node and the client's span inside it) is counted once, in the outer
// run; the inner one keeps its usage under metadata.otel, with the run it is counted in.
function usageCountedElsewhere(run) {
  const otel = isObject(run.metadata) && isObject(run.metadata.otel) ? run.metadata.otel : null;
  if (!otel) return null;
  const usage = isObject(otel.usage) ? otel.usage : null;
  if (typeof otel.usage_counted_in === "string") return { usage, countedIn: otel.usage_counted_in };
  // An agent's (or a chain's, a step's) total of the model calls under it: shown, each call counted in its own run.
  if (otel.usage_aggregate === true) return { usage, countedIn: null };
  return null;
}

// runName: the name of a run of the trace by its id, when the waterfall holds it.
function countedElsewhereView(run, elsewhere, runName) {
  const tokens = elsewhere.usage && typeof elsewhere.usage.total_tokens === "number" ? `${number.format(elsewhere.usage.total_tokens)} tokens, ` : "";
  if (elsewhere.countedIn === null) {
    return h(
      "p",
      { class: "counted-elsewhere aggregate" },
      h("strong", null, "Usage: total of the calls below. "),
      `This run's usage (${tokens}in metadata.otel.usage) is the total of the model calls under it; each is counted once, in its own run.`,
    );
  }
  const name = runName(elsewhere.countedIn);
  return h(
    "p",
    { class: "counted-elsewhere" },
    h(
      "strong",
      null,
      "Usage counted in ",
      h("a", { href: `#/trace/${encodeURIComponent(String(run.trace_id))}/run/${encodeURIComponent(elsewhere.countedIn)}` }, name ?? "the run it was made in"),
      ". ",
    ),
    `This call's usage (${tokens}in metadata.otel.usage) is counted once, in the run it was made in, not again here.`,
  );
}

// Dynamiq puts an LLM node's rendered prompt in metadata.node.prompt.messages; translated spans in input.messages.
function messagesOf(run) {
  if (isObject(run.input) && Array.isArray(run.input.messages)) return run.input.messages;
  const prompt = nodeOf(run).prompt;
  if (isObject(prompt) && Array.isArray(prompt.messages)) return prompt.messages;
  return null;
}

function section(title, ...content) {
  return h("section", { class: "section open" }, h("h3", null, title), ...content);
}

function contentView(content) {
  if (typeof content === "string") return foldedText(content);
  if (Array.isArray(content)) {
    return pagedList(h("div", { class: "parts" }), content, (part) => {
      if (isObject(part) && typeof part.text === "string") return foldedText(part.text);
      if (isObject(part) && isObject(part.image_url)) return h("p", { class: "part" }, `[image] ${String(part.image_url.url ?? "").slice(0, 300)}`);
      if (isObject(part) && MEDIA_KINDS.has(part.type)) return mediaView(part);
      return valueView(part);
    });
  }
  return content === null || content === undefined ? null : valueView(content);
}

const MEDIA_KINDS = new Set(["image", "audio", "video", "file"]);
// Only raster images the exporter kept inline are drawn; a link is shown as text, never fetched.
const DRAWN_IMAGE = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*$/;

function mediaView(part) {
  const mime = typeof part.mime_type === "string" ? part.mime_type : "";
  const size = typeof part.size_bytes === "number" ? `${number.format(part.size_bytes)} bytes` : "";
  const url = typeof part.url === "string" ? part.url : "";
  const described = [`[${String(part.type)}]`, mime, size].filter(Boolean).join(" ");
  const drawn = part.type === "image" && DRAWN_IMAGE.test(url);
  return h(
    "div",
    { class: `part media media-${MEDIA_KINDS.has(part.type) ? part.type : "file"}` },
    drawn ? h("img", { class: "thumbnail", src: url, alt: described }) : null,
    h("span", { class: "media-label" }, described),
    !drawn && url && !url.startsWith("data:") ? h("code", { class: "media-link" }, url.slice(0, 500)) : null,
    typeof part.omitted === "string" ? h("span", { class: "media-omitted" }, ` (${part.omitted})`) : null,
  );
}

function toolCallView(call) {
  const fn = isObject(call) && isObject(call.function) ? call.function : call || {};
  let args = fn.arguments ?? fn.args ?? fn.input;
  if (typeof args === "string") {
    try {
      args = JSON.parse(args);
    } catch (ignored) {
      // not JSON: shown as the text it is
    }
  }
  return h(
    "div",
    { class: "tool-call" },
    h("div", { class: "tool-call-head" }, "→ calls ", h("code", null, String(fn.name ?? "tool")), call && call.id ? h("span", { class: "id" }, ` ${call.id}`) : null),
    args === undefined ? null : valueView(args),
  );
}

// Only these roles become class names (for their colours): any other role is the producer's text, shown, never a class.
const ROLE_CLASSES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

function messageView(message, extraClass = "") {
  if (!isObject(message)) return h("div", { class: "message" }, valueView(message));
  const role = String(message.role ?? "message");
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const roleClass = ROLE_CLASSES.has(role.toLowerCase()) ? role.toLowerCase() : "other";
  return h(
    "div",
    { class: `message role-${roleClass} ${extraClass}` },
    h(
      "div",
      { class: "role" },
      role,
      message.name ? h("span", { class: "id" }, ` ${message.name}`) : null,
      message.tool_call_id ? h("span", { class: "id" }, ` result of ${message.tool_call_id}`) : null,
    ),
    contentView(message.content),
    calls.length ? pagedList(h("div", { class: "tool-calls" }), calls, toolCallView) : null,
  );
}

function sumOrNull(...values) {
  const numbers = values.filter((value) => typeof value === "number");
  return numbers.length ? numbers.reduce((total, value) => total + value, 0) : null;
}

// The usage facts of a run whose usage is counted elsewhere are drawn apart (class "uncounted"): shown, not a count.
const USAGE_FACTS = new Set(["prompt tokens", "completion tokens", "total tokens", "cached input tokens", "cost"]);

function llmView(run, runName) {
  const node = nodeOf(run);
  const elsewhere = usageCountedElsewhere(run);
  const usage = usageOf(run) ?? (elsewhere ? elsewhere.usage : null);
  const connection = isObject(node.connection) ? node.connection : {};
  const provider = node.provider ?? (typeof connection.type === "string" ? connection.type.split(".").pop() : null);
  const facts = [
    ["model", node.model],
    ["provider", provider],
    ...(usage
      ? [
          ["prompt tokens", usage.prompt_tokens],
          ["completion tokens", usage.completion_tokens],
          ["total tokens", usage.total_tokens],
          ["cached input tokens", usage.cache_read_input_tokens || null],
          ["cost", cost(usage.total_tokens_cost_usd ?? sumOrNull(usage.prompt_tokens_cost_usd, usage.completion_tokens_cost_usd))],
        ]
      : []),
  ].filter(([, value]) => value !== null && value !== undefined);
  const messages = messagesOf(run) || [];
  const output = run.output;
  const answer = isObject(output) && ("content" in output || "tool_calls" in output)
    ? messageView({ role: "assistant", content: output.content, tool_calls: output.tool_calls }, "answer")
    : output === null || output === undefined
      ? null
      : h("div", { class: "message role-assistant answer" }, h("div", { class: "role" }, "output"), valueView(output));
  return [
    section(
      nodeOf(run).group === "agents" ? "Agent" : "LLM call",
      elsewhere ? countedElsewhereView(run, elsewhere, runName) : null,
      h(
        "dl",
        { class: "facts-list" },
        facts.map(([label, value]) => {
          const apart = elsewhere && USAGE_FACTS.has(label) ? " uncounted" : "";
          return [
            h("dt", { class: apart.trim() || null }, label),
            h("dd", { class: label.replace(/ /g, "-") + apart }, typeof value === "number" ? number.format(value) : String(value)),
          ];
        }),
      ),
    ),
    section("Conversation", h("div", { class: "chat" }, pagedList(h("div", { class: "messages" }), messages, (message) => messageView(message)), answer)),
  ];
}

// A skipped run never ran: its input is what it would have been given, and Dynamiq notes why in metadata.skip.
function skippedView(run) {
  if (run.status !== "skipped") return null;
  const why = isObject(run.metadata) ? run.metadata.skip : undefined;
  return h(
    "section",
    { class: "skipped-note" },
    h("strong", null, "Skipped: "),
    "this run did not execute, so it has no output or usage.",
    why === undefined || why === null ? null : h("div", { class: "skip-reason" }, "Why: ", valueView(why)),
  );
}

function errorView(error) {
  if (!isObject(error)) return null;
  return h(
    "section",
    { class: "section error-box" },
    h("h3", null, "Error", error.type ? h("code", { class: "error-type" }, ` ${error.type}`) : null),
    foldedText(String(error.message ?? ""), { class: "error-message" }),
    error.traceback ? foldedText(String(error.traceback), { class: "traceback", lines: 40, chars: 8000 }) : null,
  );
}

function executionsView(run) {
  const executions = Array.isArray(run.executions) ? run.executions : [];
  if (executions.length === 0) return null;
  const rows = pagedList(h("tbody"), executions, (execution, index) =>
    h(
      "tr",
      null,
      h("td", null, String(index + 1)),
      h("td", null, statusBadge(execution && execution.status)),
      h("td", null, clock(time(execution && execution.start_time))),
      h("td", { class: "num" }, duration(spanOf(execution || {}))),
      h("td", null, isObject(execution && execution.error) ? String(execution.error.message ?? "").slice(0, 300) : ""),
    ),
  );
  return section(
    executions.length > 1 ? `Executions (${executions.length} attempts)` : "Execution",
    h(
      "table",
      { class: "executions" },
      h("thead", null, h("tr", null, ["#", "status", "start", "duration", "error"].map((title) => h("th", null, title)))),
      rows[0],
    ),
    rows[1] || null,
  );
}

function rawView(text) {
  const pre = h("pre", { class: "raw" });
  if (text.length <= RAW_PREVIEW_CHARS) {
    pre.textContent = visible(text);
    return pre;
  }
  pre.textContent = `${visible(text.slice(0, RAW_PREVIEW_CHARS))}\n…`;
  const more = h("button", { class: "more", type: "button" }, `show all (${number.format(text.length)} characters)`);
  more.addEventListener("click", () => {
    setLongText(pre, text);
    more.remove();
  });
  return h("div", null, pre, more);
}

// An id with its copy button, or nothing for a run without it.
function idFact(label, value) {
  if (value === null || value === undefined || value === "") return null;
  const text = String(value);
  return [h("dt", null, label), h("dd", { class: label.replace(/ /g, "-") }, h("code", { class: "id" }, text), copyButton(text, label))];
}

export class RunPanel {
  // runName: a run's name by its id, from the trace's waterfall (a note names the run it points to).
  constructor(root, runName = () => undefined) {
    this.root = root;
    this.runName = runName;
    this.current = null;
    clear(root, h("p", { class: "empty" }, "Select a run in the timeline to see it here."));
  }

  // The run's panel, drawn when its run has loaded; ``shown`` settles then (a narrow window scrolls to it).
  show(runId) {
    this.shown = this.load(runId);
    return this.shown;
  }

  async load(runId) {
    this.current = runId;
    clear(this.root, h("p", { class: "empty" }, "Loading the run…"));
    let answer;
    try {
      answer = await api.run(runId);
    } catch (error) {
      if (this.current === runId) clear(this.root, h("p", { class: "problem" }, `Could not load run ${runId}: ${error.message}`));
      return;
    }
    if (this.current !== runId) return; // another run was chosen meanwhile
    this.render(answer.run, answer.deliveries);
    performance.mark("viewer:run-shown");
  }

  render(run, deliveries) {
    const node = nodeOf(run);
    const group = typeof node.group === "string" ? node.group : null;
    const isLLM = group === "llms" || usageOf(run) !== null || usageCountedElsewhere(run) !== null || messagesOf(run) !== null;
    const body = [
      h(
        "header",
        { class: "run-head" },
        h("h2", null, shownName(String(run.name ?? ""))),
        h(
          "div",
          { class: "run-badges" },
          badge(String(run.type ?? ""), "type"),
          group ? badge(group, "group") : null,
          statusBadge(run.status),
          h("span", { class: "run-duration" }, duration(spanOf(run))),
        ),
        h("div", { class: "run-meta" }, `started ${clock(time(run.start_time))}`, deliveries > 1 ? ` · received ${deliveries} times` : ""),
        h("dl", { class: "ids" }, idFact("run id", run.id), idFact("parent run id", run.parent_run_id), idFact("session id", run.session_id)),
      ),
      skippedView(run),
      errorView(run.error),
      isLLM ? llmView(run, this.runName) : null,
      !isLLM || !messagesOf(run) ? section("Input", h("div", { class: "io input" }, valueView(run.input))) : null,
      !isLLM ? section("Output", h("div", { class: "io output" }, valueView(run.output))) : null,
      executionsView(run),
      Array.isArray(run.tags) && run.tags.length
        ? section("Tags", pagedList(h("div", { class: "tags" }), run.tags, (tag) => [badge(String(tag).slice(0, 500), "tag"), " "]))
        : null,
      lazySection("Metadata", () => valueView(run.metadata ?? null)),
      lazySection("Raw run JSON", () => rawView(JSON.stringify(run, null, 2))),
    ];
    clear(this.root, body);
    this.root.scrollTop = 0;
  }
}
