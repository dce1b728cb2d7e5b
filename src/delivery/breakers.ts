/**
 * Circuit breakers (cockatiel) around the calls that leave the process: one per webhook host, one per blob store.
 * A breaker opens after `failures` consecutive failures and lets one trial call through after `openMs`; until
 * then its calls fail at once (BrokenCircuitError) instead of waiting on a host that is down. Readiness lists the
 * open ones (GET /health/ready). Kept per process: each instance learns a host's health by itself.
 */
import type { CircuitBreakerPolicy } from 'cockatiel';

/**
 * cockatiel is loaded on the first call, not at import: its module aborts an AbortController as it loads, and
 * workerd refuses that outside a handler ("Disallowed operation called within global scope"), so a static import
 * keeps the API Worker from starting. The bundler keeps a dynamic import's module unevaluated until it is called.
 */
let loading: Promise<typeof import('cockatiel')> | undefined;
const cockatiel = () => (loading ??= import('cockatiel'));

export interface BreakerOptions {
  failures: number;
  openMs: number;
}

/** A call refused at once because its breaker is open. Nothing was attempted. */
export class BreakerOpenError extends Error {
  constructor(readonly breaker: string) {
    super(`the ${breaker} breaker is open`);
    this.name = 'BreakerOpenError';
  }
}

export interface Breaker {
  /** Runs `call` through the breaker: its failures count; while open, fails at once with BreakerOpenError. */
  run<T>(call: () => Promise<T>): Promise<T>;
}

export interface Breakers {
  /** The breaker named `name` (`webhook:<host>`, `blobs`), made on first use. */
  get(name: string): Breaker;
  /** The breakers that are not closed now, by name. */
  open(): { name: string; state: 'open' | 'half-open' }[];
  readonly options: BreakerOptions;
}

/** Hosts are many; past this many breakers the closed ones are forgotten (a closed breaker knows nothing worth keeping). */
const MAX_BREAKERS = 10_000;

export function createBreakers(options: BreakerOptions): Breakers {
  type Entry = { policy: CircuitBreakerPolicy; lib: typeof import('cockatiel') };
  const byName = new Map<string, Entry>();

  async function entry(name: string): Promise<Entry> {
    const lib = await cockatiel();
    let found = byName.get(name);
    if (!found) {
      if (byName.size >= MAX_BREAKERS) {
        for (const [key, { policy }] of byName) if (policy.state === lib.CircuitState.Closed) byName.delete(key);
      }
      found = { policy: lib.circuitBreaker(lib.handleAll, { halfOpenAfter: options.openMs, breaker: new lib.ConsecutiveBreaker(options.failures) }), lib };
      byName.set(name, found);
    }
    return found;
  }

  return {
    options,
    get(name) {
      return {
        async run(call) {
          const { policy: breaker, lib } = await entry(name);
          try {
            return await breaker.execute(call);
          } catch (error) {
            if (error instanceof lib.BrokenCircuitError) throw new BreakerOpenError(name);
            throw error;
          }
        },
      };
    },
    open() {
      const out: { name: string; state: 'open' | 'half-open' }[] = [];
      for (const [name, { policy: breaker, lib }] of byName) {
        if (breaker.state === lib.CircuitState.Open || breaker.state === lib.CircuitState.Isolated) out.push({ name, state: 'open' });
        else if (breaker.state === lib.CircuitState.HalfOpen) out.push({ name, state: 'half-open' });
      }
      return out;
    },
  };
}
