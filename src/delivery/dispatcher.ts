/**
 * The Node (and Deno) sender: a loop in the server process that claims due deliveries and sends up to
 * `concurrency` at once. It wakes when a job changes here (`kick()`: an event was probably written), when a send
 * ends (the job's next event may be due now), and every `pollMs` (events of other instances, retries coming due).
 * Deliveries are claimed by compare-and-set, so several processes share the work; one that dies mid-send leaves a
 * lease that runs out, and the delivery is sent again with the same id (at least once).
 */
import { send, type DeliveryDeps } from './deliver.js';
import { claimDelivery } from './deliveries.js';

export interface Dispatcher {
  start(): void;
  /** Something may be due now. */
  kick(): void;
  /** Stops claiming; waits for the sends in flight (at most their timeouts). */
  stop(): Promise<void>;
}

export function createDispatcher(deps: DeliveryDeps & { owner: string }): Dispatcher {
  const { db, config, clock, log, owner } = deps;
  const inFlight = new Set<Promise<void>>();
  let running = false;
  let kicked = false;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | null = null;

  const kick = () => {
    kicked = true;
    wake?.();
  };

  /** Claims while there is room and something is due; false when the claim itself failed (the database). */
  async function fill(): Promise<void> {
    while (running && inFlight.size < config.webhooks.concurrency) {
      const delivery = await claimDelivery(db, { owner, ms: config.webhooks.leaseMs }, clock());
      if (!delivery) return;
      const sending = send(deps, delivery, owner).catch((error: unknown) =>
        log.error('webhook send failed', { event_id: delivery.eventId, error: error instanceof Error ? error.message : String(error) }),
      );
      inFlight.add(sending);
      void sending.finally(() => {
        inFlight.delete(sending);
        kick();
      });
    }
  }

  async function run(): Promise<void> {
    while (running) {
      kicked = false;
      try {
        await fill();
      } catch (error) {
        log.warn('webhook claim failed', { error: error instanceof Error ? error.message : String(error) });
      }
      if (!running || kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, config.webhooks.pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    kick,
    async stop() {
      running = false;
      wake?.();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}
