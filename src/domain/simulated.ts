/** The provider names the embedded simulator is registered under (src/app.ts): answers from them are made up. */
export const SIMULATOR_PROVIDERS: ReadonlySet<string> = new Set(['simulator', 'simulator-anthropic']);

export function isSimulatedProvider(provider: string): boolean {
  return SIMULATOR_PROVIDERS.has(provider);
}
