// The openai Node SDK drives the two-tool weather task through the gateway, streamed; prints the result as JSON.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.GATEWAY_URL, apiKey: process.env.GATEWAY_KEY, maxRetries: 0 });
const tools = JSON.parse(process.env.TOOLS);
const run = {
  get_weather: () => "21",
  to_fahrenheit: ({ celsius }) => String((celsius * 9) / 5 + 32),
};
const messages = [{ role: "user", content: "What is the weather in Paris, in Fahrenheit?" }];
const rounds = [];
for (let round = 0; round < 4; round++) {
  const stream = await client.chat.completions.create({ model: "deepseek-chat", messages, tools, stream: true });
  const calls = [];
  let content = "";
  let finish = null;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
    for (const piece of choice.delta.tool_calls ?? []) {
      calls[piece.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } };
      const call = calls[piece.index];
      call.id ||= piece.id ?? "";
      call.function.name += piece.function?.name ?? "";
      call.function.arguments += piece.function?.arguments ?? "";
    }
  }
  rounds.push({ finish, calls: calls.map((c) => c.function.name) });
  messages.push({ role: "assistant", content: content || null, ...(calls.length ? { tool_calls: calls } : {}) });
  if (!calls.length) {
    console.log(JSON.stringify({ answer: content, rounds }));
    process.exit(0);
  }
  for (const call of calls) {
    const result = run[call.function.name](JSON.parse(call.function.arguments));
    messages.push({ role: "tool", tool_call_id: call.id, content: result });
  }
}
console.log(JSON.stringify({ answer: null, rounds }));
