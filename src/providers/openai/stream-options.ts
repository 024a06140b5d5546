import { OrchestratorError, Reason } from '../../domain/errors.js';

/**
 * Whether an upstream takes `stream_options`, which a stream sends to get its usage chunk. Servers
 * that refuse fields they do not know (vLLM before 0.4.3, Fireworks and Azure's older API
 * versions) answer a stream that has them with a 400 or 422, which would fail every stream they
 * serve. Their error bodies name the field in as many ways as there are servers, so the request
 * itself is the test: refused with them, it is sent once more without; answered then, the upstream
 * is known to refuse them and later streams go without (their usage estimated). Until a stream
 * with them is answered, each refused one costs that second request; after, none does.
 */
export class StreamOptionsSupport {
  #known: 'taken' | 'refused' | undefined;

  /**
   * Opens a stream through `send`, told whether to include `stream_options`; `translate` makes a
   * failure the gateway's error, read only while the answer is not known. Once it is, the stream
   * is sent as is: no wrapper on every stream's way.
   */
  open<T>(send: (withOptions: boolean) => Promise<T>, translate: (err: unknown) => unknown): Promise<T> {
    if (this.#known !== undefined) return send(this.#known === 'taken');
    return this.#probe(send, translate);
  }

  async #probe<T>(send: (withOptions: boolean) => Promise<T>, translate: (err: unknown) => unknown): Promise<T> {
    try {
      const response = await send(true);
      this.#known = 'taken';
      return response;
    } catch (err) {
      const ours = translate(err);
      if (this.#known === 'taken' || !refusedAsInvalid(ours)) throw ours;
    }
    // Refused without them too, the request itself is at fault, and that answer says so.
    const response = await send(false);
    this.#known = 'refused';
    return response;
  }
}

function refusedAsInvalid(err: unknown): boolean {
  if (!(err instanceof OrchestratorError) || err.reason !== Reason.UPSTREAM_REJECTED_REQUEST) return false;
  const status = err.metadata.upstream_status;
  return status === '400' || status === '422';
}
