#!/usr/bin/env node
/**
 * `llm-orchestrator`: a command line client for a running gateway.
 *
 *   llm-orchestrator chat "Explain gRPC deadlines" --model gpt-4o-mini
 *   llm-orchestrator stream "Tell me a story" --addr 10.0.0.5:50051
 *   llm-orchestrator race "hi" --models gpt-4o,gpt-4o-mini --json
 *
 * Built to dist/cli/main.js (the package's `bin`); in the repo: node --import tsx src/cli/main.ts.
 * `llm-orchestrator --help` lists every command and option.
 */
import { readFileSync } from 'node:fs';
import { versionLine } from '../version.js';
import type * as grpc from '@grpc/grpc-js';
import { parseCommandLine, USAGE, UsageError, type CliOptions } from './args.js';
import { IncompleteStreamError, runCommand } from './commands.js';
import { type Connection, connect, isServiceError } from './connection.js';
import { describeError } from './errors.js';
import { isLedgerCommand, runLedgerCommand } from './ledger-commands.js';

const EXIT_OK = 0;
const EXIT_CALL_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

async function main(argv: readonly string[]): Promise<number> {
  // `llm-orchestrator stream ... | head`, `calls | head`: a reader that went away is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
  // `2>&1 | head`, `2>&1 >answer.txt | head`: the summary's reader went away, not the answer's.
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  if (isLedgerCommand(argv))
    return runLedgerCommand(
      argv,
      process.env,
      (t) => process.stdout.write(t),
      (t) => process.stderr.write(t),
    );
  let options: CliOptions;
  let conn: Connection;
  try {
    const parsed = parseCommandLine(argv, process.env);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    if (parsed === 'version') {
      process.stdout.write(`${versionLine()}\n`);
      return EXIT_OK;
    }
    options = parsed.prompt === '-' ? { ...parsed, prompt: readFileSync(0, 'utf8').trim() } : parsed;
    // Sent, it would be a failed call refused for `messages`, a field the command line never names.
    if (parsed.prompt === '-' && options.prompt === '') throw new UsageError(`${options.command} needs a PROMPT: standard input was empty`);
    conn = connect(options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`llm-orchestrator: ${err.message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }

  let active: grpc.Call | undefined;
  let interrupted = false;
  // Ctrl-C cancels the call, so the server stops the upstream request too.
  const onSigint = (): void => {
    if (interrupted || !active) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    active.cancel();
  };
  process.on('SIGINT', onSigint);
  // Answer text without its closing line break (a stream cut short): the error then starts on a line of its own.
  let openLine = false;
  try {
    await runCommand(conn, options, {
      out: (text) => {
        if (text !== '') openLine = !text.endsWith('\n');
        process.stdout.write(text);
      },
      info: (text) => process.stderr.write(text),
      track: (call) => (active = call),
    });
    return EXIT_OK;
  } catch (err) {
    if (interrupted) {
      process.stderr.write('\ninterrupted: call cancelled\n');
      return EXIT_INTERRUPTED;
    }
    if (openLine) process.stdout.write('\n');
    if (isServiceError(err)) {
      process.stderr.write(describeError(err));
      return EXIT_CALL_FAILED;
    }
    if (err instanceof IncompleteStreamError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_CALL_FAILED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    conn.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`llm-orchestrator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT_CALL_FAILED;
  },
);
