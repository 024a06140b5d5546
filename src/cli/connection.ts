import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ChatServiceClient } from '../gen/orchestrator/v1/chat.js';
import { ModelServiceClient } from '../gen/orchestrator/v1/models.js';
import { StatsServiceClient } from '../gen/orchestrator/v1/stats.js';
import { type CliOptions, type TlsOptions, UsageError } from './args.js';
import { hasCertificate } from '../domain/pem.js';

/** The three service clients over one channel, and what every call sends. */
export interface Connection {
  readonly chat: ChatServiceClient;
  readonly models: ModelServiceClient;
  readonly stats: StatsServiceClient;
  /** x-request-id and the API key, when given. */
  metadata(): grpc.Metadata;
  /** The deadline, counted from now. */
  callOptions(): Partial<grpc.CallOptions>;
  close(): void;
}

/** How a channel to the gateway is opened: its credentials and the channel options they need. */
export interface ChannelSettings {
  readonly credentials: grpc.ChannelCredentials;
  readonly options: grpc.ChannelOptions;
}

/** Throws UsageError when a file named on the command line cannot be read: no call was made. */
export function channelSettings(addr: string, options: TlsOptions): ChannelSettings {
  if (!options.tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const ca = options.caFile === undefined ? null : readFlagFile('--ca-file', options.caFile);
  // OpenSSL skips what is not a PEM certificate: the channel would trust nothing, and every call
  // fail with "unable to verify the first certificate", naming neither the flag nor the file.
  if (ca !== null && options.caFile !== undefined && !hasCertificate(ca)) {
    throw new UsageError(`--ca-file: no PEM certificate in ${options.caFile}`);
  }
  const key = options.clientCert === undefined ? null : readFlagFile('--key-file', options.clientCert.keyFile);
  const cert = options.clientCert === undefined ? null : readFlagFile('--cert-file', options.clientCert.certFile);
  const host = grpc.experimental.splitHostPort(addr)?.host;
  const ip = host !== undefined && isIP(host) !== 0 ? host : undefined;
  let credentials: grpc.ChannelCredentials;
  try {
    // Node warns on stderr (DEP0123) when the TLS server name is an IP address, which RFC 6066
    // forbids: an IP target sends a host name instead, and its certificate is still checked
    // against the IP, as it would have been.
    credentials = grpc.credentials.createSsl(
      ca,
      key,
      cert,
      ip === undefined ? {} : { checkServerIdentity: (_, c) => checkServerIdentity(ip, c) },
    );
  } catch (err) {
    // OpenSSL's message ("PEM routines::no start line") names neither the flag nor the file.
    throw new UsageError(
      `--cert-file and --key-file: not a PEM certificate and its key (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  return { credentials, options: ip === undefined ? {} : { 'grpc.ssl_target_name_override': 'localhost' } };
}

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new UsageError(`${flag}: cannot read ${path} (${reason})`);
  }
}

export function connect(options: CliOptions): Connection {
  const { credentials, options: channelOptions } = channelSettings(options.addr, options);
  const chat = new ChatServiceClient(options.addr, credentials, channelOptions);
  // One channel for all three clients: the later ones reuse the first one's.
  const channelOverride = chat.getChannel();
  const models = new ModelServiceClient(options.addr, credentials, { channelOverride });
  const stats = new StatsServiceClient(options.addr, credentials, { channelOverride });
  return {
    chat,
    models,
    stats,
    metadata() {
      const metadata = new grpc.Metadata();
      if (options.requestId !== undefined) metadata.set('x-request-id', options.requestId);
      if (options.apiKey !== undefined) metadata.set('authorization', `Bearer ${options.apiKey}`);
      return metadata;
    },
    callOptions() {
      return { deadline: Date.now() + options.timeoutMs };
    },
    close() {
      chat.close();
    },
  };
}

type Callback<Res> = (err: grpc.ServiceError | null, response: Res) => void;

/**
 * A unary call as a promise. `start` makes the call; `onCall` receives it, so the caller can
 * cancel it (Ctrl-C).
 */
export function unary<Res>(start: (callback: Callback<Res>) => grpc.ClientUnaryCall, onCall: (call: grpc.Call) => void): Promise<Res> {
  return new Promise((resolve, reject) => {
    onCall(start((err, response) => (err ? reject(err) : resolve(response))));
  });
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return (
    err instanceof Error && 'code' in err && typeof err.code === 'number' && 'metadata' in err && err.metadata instanceof grpc.Metadata
  );
}
