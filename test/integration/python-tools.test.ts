import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A full tool loop from Python over gRPC, with the generated package (clients/python): the model
 * asks for tools, the client runs them and sends the results, the model answers in text.
 * Debian's /usr/bin/python3 is the interpreter that sees python3-grpcio.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

const LOOP = `
import json, sys
sys.dont_write_bytecode = True
sys.path[:0] = [sys.argv[2], sys.argv[3]]
import grpc
from google.protobuf import struct_pb2
from orchestrator.v1 import chat_pb2, chat_pb2_grpc, common_pb2

def get_weather(city, unit="celsius"):
    return {"city": city, "temperature": 21, "unit": unit}

params = struct_pb2.Struct()
params.update({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]})
tooling = chat_pb2.ToolOptions(tools=[chat_pb2.Tool(name="get_weather", description="Current weather in a city", parameters=params)])
stub = chat_pb2_grpc.ChatServiceStub(grpc.insecure_channel(sys.argv[1]))
messages = [common_pb2.Message(role=common_pb2.ROLE_USER, content="What is the weather in Paris?")]
turns = []
for _ in range(4):
    reply = stub.Chat(chat_pb2.ChatRequest(model="gpt-4o-mini", messages=messages, tooling=tooling), timeout=10)
    turns.append({"finish": common_pb2.FinishReason.Name(reply.finish_reason), "calls": [c.name for c in reply.tool_calls]})
    if reply.finish_reason != common_pb2.FINISH_REASON_TOOL_CALLS:
        print(json.dumps({"turns": turns, "answer": reply.content, "sent": len(messages)}))
        break
    messages.append(common_pb2.Message(role=common_pb2.ROLE_ASSISTANT, tool_calls=reply.tool_calls))
    for call in reply.tool_calls:
        result = get_weather(**json.loads(call.arguments))
        messages.append(common_pb2.Message(role=common_pb2.ROLE_TOOL, tool_call_id=call.id, content=json.dumps(result)))
`;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('a Python client', () => {
  it('runs a tool loop over gRPC: tool calls, the results sent back, a text answer', async () => {
    const root = process.cwd();
    const { stdout } = await run(
      PYTHON,
      ['-c', LOOP, `127.0.0.1:${harness.app.port}`, join(root, 'clients/python/src'), join(root, 'examples/python/gen')],
      { timeout: 15_000 },
    );
    const result = JSON.parse(stdout) as { turns: { finish: string; calls: string[] }[]; answer: string; sent: number };
    expect(result.turns).toEqual([
      { finish: 'FINISH_REASON_TOOL_CALLS', calls: ['get_weather'] },
      { finish: 'FINISH_REASON_STOP', calls: [] },
    ]);
    expect(result.answer.length).toBeGreaterThan(0);
    // The question, the assistant's tool call, the tool's result.
    expect(result.sent).toBe(3);
    // The upstream saw the tool result as a tool message answering the call.
    const body = harness.upstream.requests.at(-1)?.body as { messages: { role: string; tool_call_id?: string; content: string }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(JSON.parse(body.messages[2]!.content)).toMatchObject({ city: expect.any(String), temperature: 21 });
  });
});
