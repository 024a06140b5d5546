/** A cancellable delay that resolves to the marker 'hedge': "start the next racer now". */
export interface HedgeTimer {
  readonly fired: Promise<'hedge'>;
  cancel(): void;
}

export function hedgeTimer(ms: number): HedgeTimer {
  let timer: NodeJS.Timeout | undefined;
  const fired = new Promise<'hedge'>((resolve) => {
    timer = setTimeout(() => resolve('hedge'), Math.max(0, ms));
  });
  return { fired, cancel: () => clearTimeout(timer) };
}
