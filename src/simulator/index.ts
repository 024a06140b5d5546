export { startSimulator, type Simulator, type SimulatorOptions } from './server.js';
export { DEFAULT_SIM_PROFILES, FALLBACK_SIM_PROFILE, type SimulatedModelProfile } from './profiles.js';
export { FAULT_KINDS, parseFaultRule, type FaultKind, type FaultRule } from './faults.js';
export type { SimRequestListener, SimRequestOutcome, SimRequestRecord } from './records.js';
export {
  DEFAULT_ANSWER_LENGTH,
  countPromptTokens,
  estimateTokens,
  generateText,
  tokenize,
  type AnswerLength,
  type SimMessage,
} from './text.js';
