/** Metadata keys the interceptors hand to handlers. Client-sent values of internal keys are dropped. */
export const REQUEST_ID_KEY = 'x-request-id';
/** Epoch milliseconds of the effective deadline (the caller's, or the configured default). */
export const DEADLINE_KEY = 'x-orchestrator-deadline-ms';
/** The authenticated API key's name (set by the auth interceptor only). */
export const PRINCIPAL_KEY = 'x-orchestrator-principal';
