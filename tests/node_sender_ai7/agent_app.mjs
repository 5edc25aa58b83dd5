// A Vercel AI SDK 7 app (`ai` with `@ai-sdk/openai`, telemetry by `@ai-sdk/otel`), no Dynamiq code.
// Usage: node agent_app.mjs <LLM base URL> <gateway traces URL> <modern|legacy>
//   modern: registerTelemetry(new OpenTelemetry()), spans in the GenAI semantic conventions
//           (invoke_agent / step N / chat / execute_tool / embeddings);
//   legacy: registerTelemetry(new LegacyOpenTelemetry()), the `ai.*` spans of ai 6.
// Prints two lines: the root span's trace id, then a JSON object of the usage the LLM answered
// in each scenario (read from the HTTP responses), so the test can check each scenario's runs.
// Every call goes to the local OpenAI-compatible server (examples/local_llm.py).
import { createOpenAI } from "@ai-sdk/openai";
import { LegacyOpenTelemetry, OpenTelemetry } from "@ai-sdk/otel";
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { Output, ToolLoopAgent, embed, generateText, registerTelemetry, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [llmUrl, tracesUrl, mode] = process.argv.slice(2);
if (!llmUrl || !tracesUrl || !["modern", "legacy"].includes(mode)) {
  console.error("usage: node agent_app.mjs <LLM base URL> <gateway traces URL> <modern|legacy>");
  process.exit(2);
}

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "ai7-app" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }))],
});
provider.register();
registerTelemetry(mode === "legacy" ? new LegacyOpenTelemetry() : new OpenTelemetry());

// The usage each scenario's answers carried, as the HTTP responses say; and, for structured-output
// requests (response_format json_schema), the fake LLM's prose swapped for JSON so Output.object
// succeeds (the usage is kept as it was answered).
let current = "(none)";
const answered = {};
function count(scenarioName, usage) {
  if (!usage) return;
  const seen = (answered[scenarioName] ??= { prompt_tokens: 0, completion_tokens: 0 });
  seen.prompt_tokens += usage.prompt_tokens ?? 0;
  seen.completion_tokens += usage.completion_tokens ?? 0;
}
async function countingFetch(input, init) {
  const scenarioName = current;
  const request = typeof init?.body === "string" ? JSON.parse(init.body) : {};
  const response = await fetch(input, init);
  const text = await response.clone().text();
  if (request.stream) {
    for (const line of text.split("\n")) {
      if (line.startsWith("data: {")) count(scenarioName, JSON.parse(line.slice(6)).usage);
    }
    return response;
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return response;
  }
  count(scenarioName, body.usage);
  if (request.response_format?.type === "json_schema" && body.choices?.[0]?.message) {
    body.choices[0].message.content = JSON.stringify({ answer: 4, reason: "two plus two" });
    return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
  }
  return response;
}

const openai = createOpenAI({ baseURL: llmUrl, apiKey: "sk-test-not-a-real-key", fetch: countingFetch });
const chat = openai.chat("gpt-4o-mini");
// Enabled by default once an integration is registered.
const telemetry = { functionId: "ai7-test" };
// The embedding inputs and outputs are recorded only when the modern integration is asked to.
const embedTelemetry =
  mode === "legacy" ? telemetry : { ...telemetry, integrations: [new OpenTelemetry({ embedding: true })] };
const tracer = trace.getTracer("ai7-app");
const add = tool({
  description: "Adds two numbers a and b.",
  inputSchema: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => a + b,
});
// A 1x1 PNG, 70 bytes.
const PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PNG = new Uint8Array(Buffer.from(PNG_B64, "base64"));

async function scenario(name, body) {
  current = name;
  await tracer.startActiveSpan(`scenario ${name}`, async (span) => {
    try {
      await body();
    } catch {
      // The failing call is expected to fail; its spans say so.
    } finally {
      span.end();
    }
  });
}

function withImage(image) {
  return [{ role: "user", content: [{ type: "text", text: "What is in this image?" }, image] }];
}

let traceId;
await tracer.startActiveSpan("ai7 app", async (root) => {
  traceId = root.spanContext().traceId;
  await scenario("generate", () =>
    generateText({ model: chat, system: "Be brief.", prompt: "What is 2 + 2?", telemetry }),
  );
  await scenario("tool call", () =>
    generateText({ model: chat, prompt: "add 2 and 2", tools: { add }, stopWhen: stepCountIs(2), telemetry }),
  );
  await scenario("agent", () => {
    const agent = new ToolLoopAgent({
      id: "adder-agent",
      model: chat,
      instructions: "You add numbers with the add tool.",
      tools: { add },
      stopWhen: stepCountIs(3),
      telemetry,
    });
    return agent.generate({ prompt: "add 2 and 2" });
  });
  await scenario("stream", async () => {
    const result = streamText({ model: chat, prompt: "hello there", telemetry });
    for await (const _ of result.textStream) {
      // read the whole answer
    }
    await result.usage;
  });
  await scenario("structured output", () =>
    generateText({
      model: chat,
      output: Output.object({ schema: z.object({ answer: z.number(), reason: z.string() }) }),
      prompt: "What is 2 + 2? Answer in JSON.",
      telemetry,
    }),
  );
  await scenario("embed", () =>
    embed({ model: openai.embedding("text-embedding-3-small"), value: "a b", telemetry: embedTelemetry }),
  );
  await scenario("image bytes", () =>
    generateText({
      model: chat,
      messages: withImage({ type: "image", image: PNG, mediaType: "image/png" }),
      telemetry,
    }),
  );
  await scenario("image data url", () =>
    generateText({
      model: chat,
      messages: withImage({ type: "image", image: `data:image/png;base64,${PNG_B64}` }),
      telemetry,
    }),
  );
  await scenario("failing", () =>
    generateText({ model: openai.chat("failing-model"), prompt: "What is 2 + 2?", maxRetries: 0, telemetry }),
  );
  root.end();
});
await provider.shutdown();
console.log(traceId);
console.log(JSON.stringify(answered));
