/** Who is calling: an API key's name and what it may do. Undefined when the service is open. */
export interface Principal {
  readonly name: string;
  /** Model ids (canonical) or patterns with `*`. */
  readonly allowedModels: readonly string[];
}
