import { describe, expect, it } from 'vitest';
import { httpField } from '../../../src/http/field-paths.js';

describe('httpField', () => {
  it("spells a tool's field as the OpenAI body does, from the gRPC path a provider names", () => {
    expect(httpField('tooling.tools[1].parameters')).toBe('tools[1].function.parameters');
    expect(httpField('tools[1].name')).toBe('tools[1].function.name');
    expect(httpField('sampling.seed')).toBe('seed');
    expect(httpField('response_format.json_schema.schema')).toBe('response_format.json_schema.schema');
  });
});
