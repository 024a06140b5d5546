/**
 * A field's path as the OpenAI request spells it, from the path the engine and the providers
 * name (the gRPC request's): content[j] for parts[j], an image's image_url (a data: URL carries
 * the bytes and the type), a tool's or a tool call's name, parameters and arguments under
 * `function`, an embedding request's input for EmbedRequest's inputs and token_inputs
 * (input[i][j] for token_inputs[i].ids[j]), the sampling fields at the top of the body (`seed`
 * for `sampling.seed`), the tools there too (`tools[i]` for `tooling.tools[i]`), a route's
 * candidates under `orchestrator`. A path already spelled so stays as it is.
 */
export function httpField(field: string): string {
  return field
    .replace(/^token_inputs(\[\d+\])\.ids(\[\d+\])$/, 'input$1$2')
    .replace(/^(token_)?inputs(?=\[|$)/, 'input')
    .replace(/^route\.candidates$/, 'orchestrator.route.candidates')
    .replace(/^tooling\.(?=tools\[)/, '')
    .replace(/^sampling\./, '')
    .replace(/\.parts\[/g, '.content[')
    .replace(/\.image\.(url|data|media_type)$/, '.image_url.url')
    .replace(/\.image\.detail$/, '.image_url.detail')
    .replace(/(\.tool_calls\[\d+\])\.(name|arguments)$/, '$1.function.$2')
    .replace(/^(tools\[\d+\])\.(name|parameters)$/, '$1.function.$2');
}

/** What only a chat completion's own body tells apart: the name its output cap came under, and `stop` sent as one string. */
export interface RequestSpelling {
  readonly maxTokens: 'max_tokens' | 'max_completion_tokens';
  readonly oneStop: boolean;
}

/** A field's path as this request spelled it: `max_completion_tokens` when it sent that, `stop` for a lone stop string. */
export function sentField(field: string, spelling: RequestSpelling): string {
  const path = httpField(field);
  if (path === 'max_tokens') return spelling.maxTokens;
  return spelling.oneStop && path === 'stop[0]' ? 'stop' : path;
}
