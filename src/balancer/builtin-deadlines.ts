// One timer for many deadlines of the same length (idle clients, pending connects). Items added
// with a fixed delay expire in insertion order, so a Map (which iterates in insertion order) is the
// queue, and only its head needs a timer. This replaces a setTimeout/clearTimeout pair per
// connection (each of which also toggles the event loop's ref count) with a Map set/delete.

export class DeadlineQueue<T extends object> {
  private readonly items = new Map<T, number>();
  private timer: NodeJS.Timeout | null = null;

  /** `onExpire` runs for each item whose deadline passed; the item is already removed. */
  constructor(
    readonly delayMs: number,
    private readonly onExpire: (item: T) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  /** Adds `item` to expire `delayMs` from now (re-adding moves it to the back). */
  add(item: T, now = Date.now()): void {
    this.items.delete(item);
    const deadline = now + this.delayMs;
    this.items.set(item, deadline);
    if (this.timer === null) this.arm(deadline, now);
  }

  delete(item: T): void {
    this.items.delete(item);
  }

  /** Forgets every item without expiring them, and stops the timer. */
  clear(): void {
    this.items.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(deadline: number, now: number): void {
    this.timer = setTimeout(this.fire, Math.max(1, deadline - now));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = Date.now();
    for (const [item, deadline] of this.items) {
      if (deadline > now) {
        if (this.timer === null) this.arm(deadline, now); // onExpire may have armed it already
        return;
      }
      this.items.delete(item);
      this.onExpire(item);
    }
  };
}
