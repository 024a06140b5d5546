import { Worker } from 'node:worker_threads';

/** What a ledger thread answers to a request: its result, or the error it met (message and SQLite's code). */
export interface ThreadAnswer<R> {
  readonly id: number;
  readonly result?: R;
  readonly error?: string;
  /** better-sqlite3's code for the error (SQLITE_CONSTRAINT_PRIMARYKEY, ...): the ledger tells a refused row from a database away by it. */
  readonly code?: string;
}

/**
 * The code of a request to a thread closed with its database (shutdown, or a SQLite file opened
 * again): the database is away for it, and the one now open is asked instead.
 */
export const THREAD_CLOSED = 'LEDGER_THREAD_CLOSED';

/**
 * A thread of the ledger's own (the SQLite writer, the SQLite reader), asked one request at a
 * time by id. It starts on the first request (after the migrations have run), keeps the process
 * alive only while a request is in flight, and one that dies fails the requests it held; the next
 * request starts another, until the thread is closed for good.
 */
export class LedgerThread<Q, R> {
  #worker: Worker | undefined;
  #closed = false;
  #next = 0;
  readonly #pending = new Map<number, { resolve: (result: R) => void; reject: (err: Error) => void }>();

  /** `entry`: the thread's module beside this file, without its extension. */
  constructor(
    private readonly entry: string,
    private readonly data: unknown,
    private readonly name: string,
  ) {}

  request(message: Q): Promise<R> {
    // Started again, a thread would hold the closed database's file open for the life of the process.
    if (this.#closed) return Promise.reject(this.#closedError());
    const worker = this.#worker ?? this.#start();
    const id = ++this.#next;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // A request in flight keeps the process alive (shutdown waits for the ledger's flush).
      worker.ref();
      worker.postMessage({ id, ...message });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    // Before the thread ends: its exit would fail them as a thread that died.
    this.#fail(this.#closedError());
    if (worker) await worker.terminate();
  }

  #closedError(): Error {
    return Object.assign(new Error(`the ledger ${this.name} was closed`), { code: THREAD_CLOSED });
  }

  #start(): Worker {
    const worker = spawn(this.entry, this.data);
    worker.unref();
    worker.on('message', (answer: ThreadAnswer<R>) => {
      const waiting = this.#pending.get(answer.id);
      if (!waiting) return;
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      if (answer.error === undefined) waiting.resolve(answer.result as R);
      else waiting.reject(Object.assign(new Error(answer.error), answer.code === undefined ? {} : { code: answer.code }));
    });
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#fail(new Error(`the ledger ${this.name} thread exited (code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #fail(err: Error): void {
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const w of waiting) w.reject(err);
  }
}

/** The error a thread answers with: its message, and SQLite's code when it has one. */
export function answerOf(id: number, err: unknown): ThreadAnswer<never> {
  const code = (err as { code?: unknown } | null)?.code;
  return { id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) };
}

/** The built thread next to this file; from source (tests, tsx), the .ts one through tsx's loader. */
function spawn(entry: string, workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${entry}.js`, here), { workerData });
  const source = new URL(`./${entry}.ts`, here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
