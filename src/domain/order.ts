/**
 * Strings in code unit order. Not `localeCompare`: its order follows the process's locale (ICU
 * reads it from the environment), so two replicas, or one restarted under another LANG, could
 * list the same rows in different orders, and a page token would point into a different list.
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
