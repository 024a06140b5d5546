/**
 * `{ ...base, ...extra }`, for objects made on every call. In Node 20's optimised code an object
 * literal that opens with a spread and then gains a key the spread did not bring gets a hidden
 * class of its own each time it runs: about 1 µs per literal, and every later read of the object
 * sees a shape it has not seen before. `Object.assign` onto a fresh `{}` walks the transitions all
 * such objects share. A check on the source tree (test/unit/project/spread-literals.test.ts)
 * keeps the literal out of the per-call folders. Unlike a spread, `Object.assign` sets: a
 * source's own `__proto__` key (only JSON.parse makes one) would become the prototype. No
 * per-call object has one: the HTTP door refuses a body with that key (Fastify's
 * onProtoPoisoning), and gRPC's Struct decoding never makes it an own key.
 */
export function extend<A extends object, B extends object>(base: A, extra: B): Omit<A, keyof B> & B {
  return Object.assign({}, base, extra);
}
