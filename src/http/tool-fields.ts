import { checkTooling, definedTooling, type JsonObject, type ResponseFormat, type ToolChoice, type Tooling } from '../domain/tools.js';
import { booleanField, isObject, refuseOtherFields, type Violations } from './body-fields.js';
import { parseCacheControl } from './cache-control-fields.js';

/** tools, tool_choice, parallel_tool_calls and response_format, as the Chat Completions API spells them. */
export function parseToolingFields(body: Record<string, unknown>, v: Violations): Tooling | undefined {
  const tooling: Tooling = {
    tools: tools(body.tools, v),
    toolChoice: toolChoice(body.tool_choice, v),
    parallelToolCalls: booleanField(v, 'parallel_tool_calls', body.parallel_tool_calls),
    responseFormat: responseFormat(body.response_format, v),
  };
  for (const violation of checkTooling(tooling, (name) => name)) v.add(violation.field, violation.description);
  return definedTooling(tooling);
}

const TOOL_FIELDS: ReadonlySet<string> = new Set(['type', 'function', 'cache_control']);
const FUNCTION_FIELDS: ReadonlySet<string> = new Set(['name', 'description', 'parameters', 'strict']);
const FORMAT_FIELDS: ReadonlySet<string> = new Set(['type']);
const SCHEMA_FORMAT_FIELDS: ReadonlySet<string> = new Set(['type', 'json_schema']);
const JSON_SCHEMA_FIELDS: ReadonlySet<string> = new Set(['name', 'description', 'schema', 'strict']);

function tools(raw: unknown, v: Violations): Tooling['tools'] {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    v.add('tools', 'must be an array of function tools');
    return undefined;
  }
  return raw.map((tool: unknown, i) => {
    const fn = isObject(tool) ? tool.function : undefined;
    if (!isObject(tool) || tool.type !== 'function' || !isObject(fn)) {
      v.add(
        `tools[${i}]`,
        'must be { "type": "function", "function": { "name", "description", "parameters" } } (other tool types are not supported)',
      );
      return { name: 'invalid' };
    }
    // A null field is an absent one, as in the rest of the body (pydantic and LangChain send unset fields so).
    refuseOtherFields(v, tool, TOOL_FIELDS, `tools[${i}]`, 'is not a tool field (a function tool takes its settings under function)');
    refuseOtherFields(v, fn, FUNCTION_FIELDS, `tools[${i}].function`, 'is not a function tool field');
    if (fn.parameters != null && !isObject(fn.parameters)) v.add(`tools[${i}].function.parameters`, 'must be a JSON Schema object');
    if (fn.description != null && typeof fn.description !== 'string') v.add(`tools[${i}].function.description`, 'must be a string');
    return {
      name: typeof fn.name === 'string' ? fn.name : '',
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      ...(isObject(fn.parameters) ? { parameters: fn.parameters as JsonObject } : {}),
      ...(booleanField(v, `tools[${i}].function.strict`, fn.strict) ? { strict: true } : {}),
      // Beside `function`, as LiteLLM and OpenRouter take it.
      ...parseCacheControl(tool.cache_control, `tools[${i}].cache_control`, v),
    };
  });
}

function toolChoice(raw: unknown, v: Violations): ToolChoice | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto' || raw === 'none' || raw === 'required') return { type: raw };
  const fn = isObject(raw) ? raw.function : undefined;
  if (isObject(raw) && raw.type === 'function' && isObject(fn) && typeof fn.name === 'string') return { type: 'function', name: fn.name };
  v.add('tool_choice', 'must be "auto", "none", "required" or { "type": "function", "function": { "name" } }');
  return undefined;
}

function responseFormat(raw: unknown, v: Violations): ResponseFormat | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) {
    v.add('response_format', 'must be an object: { "type": "text" | "json_object" | "json_schema" }');
    return undefined;
  }
  if (raw.type !== 'text' && raw.type !== 'json_object' && raw.type !== 'json_schema') {
    v.add('response_format.type', 'must be text, json_object or json_schema');
    return undefined;
  }
  const type = raw.type;
  refuseOtherFields(
    v,
    raw,
    type === 'json_schema' ? SCHEMA_FORMAT_FIELDS : FORMAT_FIELDS,
    'response_format',
    `is not a ${type} response_format field`,
  );
  if (type !== 'json_schema') return { type };
  const spec = raw.json_schema;
  if (!isObject(spec)) {
    v.add('response_format.json_schema', 'is required with type json_schema: { "name", "schema", "strict" }');
    return undefined;
  }
  refuseOtherFields(v, spec, JSON_SCHEMA_FIELDS, 'response_format.json_schema', 'is not a json_schema field');
  if (spec.schema != null && !isObject(spec.schema)) v.add('response_format.json_schema.schema', 'must be a JSON Schema object');
  return {
    type: 'json_schema',
    name: typeof spec.name === 'string' ? spec.name : '',
    ...(typeof spec.description === 'string' ? { description: spec.description } : {}),
    schema: isObject(spec.schema) ? (spec.schema as JsonObject) : {},
    ...(booleanField(v, 'response_format.json_schema.strict', spec.strict) ? { strict: true } : {}),
  };
}
