/** `*` matches any run of characters; everything else is literal; case-insensitive. */
export function modelPattern(pattern: string): RegExp {
  const escaped = pattern
    .trim()
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`);
}

export function allowsModel(patterns: readonly RegExp[], modelId: string): boolean {
  const id = modelId.toLowerCase();
  return patterns.some((p) => p.test(id));
}
