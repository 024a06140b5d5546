/**
 * The names stats, metrics and the ledger count chat completions under (ChatService, next to Chat
 * and StreamChat). Apart from the routes, so the command line can name them without loading them.
 */
export const CHAT_COMPLETIONS_PATH = '/orchestrator.v1.ChatService/ChatCompletions';
export const CHAT_COMPLETIONS_STREAM_PATH = '/orchestrator.v1.ChatService/ChatCompletionsStream';
