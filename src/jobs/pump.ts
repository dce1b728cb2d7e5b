/**
 * Claiming loops (the in-process pool, the worker fleet) run their fill one at a time: a request to pump during a
 * fill runs exactly one more fill after it, so no queued job waits for the next poll and no two fills race.
 */
export interface Pump {
  (): Promise<void>;
  /** Resolves when no fill is running. */
  settled(): Promise<void>;
}

export function serialPump(fill: () => Promise<void>, accepting: () => boolean, onError: (error: unknown) => void): Pump {
  let pumping: Promise<void> | null = null;
  let again = false;
  const pump = (() => {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      do {
        again = false;
        await fill().catch(onError);
      } while (again && accepting());
      pumping = null;
    })();
    return pumping;
  }) as Pump;
  pump.settled = async () => {
    await pumping;
  };
  return pump;
}
