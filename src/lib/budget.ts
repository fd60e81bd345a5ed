// A request budget shared by the endpoints that take requests from others: POST /sync from a
// forge (http/push.ts) and nudges from peers (peers/nudge.ts).

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export class RequestBudget {
  private tokens: number;
  private at: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Spends one request; false when the budget is used up. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whole seconds until the next request fits (Retry-After). */
  retryAfter(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond));
  }
}
