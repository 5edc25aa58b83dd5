// A Vercel AI SDK app (the `ai` package with `@ai-sdk/openai`), telemetry on, no Dynamiq code.
// Usage: node vercel_ai.mjs <LLM base URL> <gateway traces URL>; prints the trace id it sent.
// Every call goes to the local OpenAI-compatible server (examples/local_llm.py).
import { createOpenAI } from "@ai-sdk/openai";
import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { embed, embedMany, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [llmUrl, tracesUrl] = process.argv.slice(2);
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "vercel-ai-app" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }))],
});
provider.register();

const openai = createOpenAI({ baseURL: `${llmUrl}/v1`, apiKey: "sk-test-not-a-real-key" });
const telemetry = { isEnabled: true, functionId: "vercel-test" };
const tracer = trace.getTracer("vercel-ai-app");
const add = tool({
  description: "Adds two numbers a and b.",
  inputSchema: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => a + b,
});

async function scenario(name, body) {
  await tracer.startActiveSpan(`scenario ${name}`, async (span) => {
    try {
      await body();
    } catch (error) {
      // The failing call is expected to fail; its span says so.
    } finally {
      span.end();
    }
  });
}

let traceId;
await tracer.startActiveSpan("vercel app", async (root) => {
  traceId = root.spanContext().traceId;
  await scenario("generate", () =>
    generateText({
      model: openai.chat("gpt-4o-mini"),
      system: "Be brief.",
      prompt: "What is 2 + 2?",
      experimental_telemetry: telemetry,
    }),
  );
  await scenario("tool call", () =>
    generateText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "add 2 and 2",
      tools: { add },
      stopWhen: stepCountIs(2),
      experimental_telemetry: telemetry,
    }),
  );
  await scenario("stream", async () => {
    const result = streamText({
      model: openai.chat("gpt-4o-mini"),
      prompt: "hello there",
      experimental_telemetry: telemetry,
    });
    for await (const _ of result.textStream) {
      // read the whole answer
    }
    await result.usage;
  });
  await scenario("embed", () =>
    embed({ model: openai.embedding("text-embedding-3-small"), value: "a b", experimental_telemetry: telemetry }),
  );
  await scenario("embed many", () =>
    embedMany({
      model: openai.embedding("text-embedding-3-small"),
      values: ["a b", "c d e"],
      experimental_telemetry: telemetry,
    }),
  );
  await scenario("failing", () =>
    generateText({
      model: openai.chat("failing-model"),
      prompt: "What is 2 + 2?",
      maxRetries: 0,
      experimental_telemetry: telemetry,
    }),
  );
  root.end();
});
await provider.shutdown();
console.log(traceId);
