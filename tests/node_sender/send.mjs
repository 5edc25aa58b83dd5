// A Node.js app as a TypeScript agent would be: the official SDK and OTLP/HTTP exporter, no Dynamiq code.
// Usage: node send.mjs <gateway traces URL> [gateway token]; prints the trace id it sent.
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { resourceFromAttributes } from "@opentelemetry/resources";

const [url, token] = process.argv.slice(2);
const exporter = new OTLPTraceExporter({ url, headers: token ? { Authorization: `Bearer ${token}` } : {} });
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "node-agent" }),
  spanProcessors: [new BatchSpanProcessor(exporter)],
});
provider.register();

const tracer = trace.getTracer("node-agent");
let traceId;
tracer.startActiveSpan("agent run", (root) => {
  traceId = root.spanContext().traceId;
  tracer.startActiveSpan(
    "chat gpt-4o-mini",
    {
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "What is 2 + 2?" }] }]),
        "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "4" }] }]),
      },
    },
    (chat) => chat.end(),
  );
  root.end();
});
await provider.shutdown();
console.log(traceId);
