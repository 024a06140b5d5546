/**
 * US dollars. Prices are per million tokens, so a single call costs fractions of a cent; every
 * amount a client, a log line or a metric sees is rounded to 1e-10 USD, so float noise from
 * summing (0.1 + 0.2) never shows and sums agree wherever they are computed.
 */
export const USD_PRECISION = 1e10;

/** An amount rounded to 1e-10 USD. */
export function roundUsd(usd: number): number {
  return Math.round(usd * USD_PRECISION) / USD_PRECISION;
}

/**
 * The cost of token counts times prices per million tokens (`tokens × price`, not yet divided by
 * a million), rounded like every other amount. One multiplication, so no float noise is added
 * on the way to the 1e-10 USD grid.
 */
export function perMillionUsd(tokensTimesPrice: number): number {
  return Math.round(tokensTimesPrice * (USD_PRECISION / 1e6)) / USD_PRECISION;
}

/** The sum of several amounts, rounded once at the end. */
export function sumUsd(amounts: Iterable<number>): number {
  let total = 0;
  for (const amount of amounts) total += amount;
  return roundUsd(total);
}

/**
 * A price per token (as OpenRouter lists them) as a price per million tokens, rounded to 1e-6 USD
 * per million, which removes the binary noise of the multiplication (0.0000018 * 1e6 is
 * 1.7999999999999998) and no real price has finer steps.
 */
export function pricePerMillion(perToken: number): number {
  return Math.round(perToken * 1e6 * 1e6) / 1e6;
}
