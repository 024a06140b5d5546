import type { Provider, ProviderRequest, ProviderStreamEvent } from '../providers/types.js';

/**
 * A provider's stream as groups of events: the provider's own grouping by upstream read when it
 * has one (`streamReads`), otherwise each event alone.
 */
export function readsOf(provider: Provider, request: ProviderRequest): AsyncIterable<readonly ProviderStreamEvent[]> {
  return provider.streamReads ? provider.streamReads(request) : singly(provider.stream(request));
}

async function* singly(events: AsyncIterable<ProviderStreamEvent>): AsyncGenerator<readonly ProviderStreamEvent[]> {
  for await (const event of events) yield [event];
}
