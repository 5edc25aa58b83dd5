// An AI SDK 7 app (legacy `ai.*` spans) that asks about a 300 KB photo three times: the SDK records the
// photo's bytes in `ai.prompt` as a JSON map of numbers ({"0": 255, ...}, about 3.5 MB a call), so one
// OTLP request carries about 12 MB. Usage: node big_image.mjs <LLM base URL> <gateway traces URL>
// Prints the trace id, then the OTLP exporter's result code for each export (0: success).
import { randomBytes } from "node:crypto";
import { createOpenAI } from "@ai-sdk/openai";
import { LegacyOpenTelemetry } from "@ai-sdk/otel";
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { generateText, registerTelemetry } from "ai";

const [llmUrl, tracesUrl] = process.argv.slice(2);
const exporter = new OTLPTraceExporter({ url: tracesUrl });
const results = [];
const send = exporter.export.bind(exporter);
exporter.export = (spans, done) =>
  send(spans, (result) => {
    results.push(result.code);
    done(result);
  });
const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
provider.register();
registerTelemetry(new LegacyOpenTelemetry());

const openai = createOpenAI({ baseURL: llmUrl, apiKey: "sk-test-not-a-real-key" });
const photo = new Uint8Array(randomBytes(300 * 1024));
photo.set([0xff, 0xd8, 0xff], 0); // a JPEG's first bytes
await trace.getTracer("big-image-app").startActiveSpan("big image app", async (root) => {
  console.log(root.spanContext().traceId);
  for (let call = 0; call < 3; call++) {
    await generateText({
      model: openai.chat("gpt-4o-mini"),
      messages: [{ role: "user", content: [{ type: "text", text: "Describe it." }, { type: "file", data: photo, mediaType: "image/jpeg" }] }],
    });
  }
  root.end();
});
await provider.shutdown();
console.log(JSON.stringify(results));
