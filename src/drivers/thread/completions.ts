// The completion registry of a driver's ring: every op submitted to the
// ring gets its userData here, tagged with the owner that submitted it
// (timers, and next the port servers of src/net/), and every completion
// the loop reaps is routed back to that owner. Like tokio's registration
// layer or glommio's Source: the ring knows nothing of its users.
//
// One-shot ops complete once. A multishot op (one SQE, many CQEs: accept,
// recv, poll) stays registered while its completions carry CQE_F_MORE; the
// first without it is its last, whatever its result says, and the entry
// goes. userData values are never reused (a counter below 2^53), so a
// completion that arrives for an op whose owner gave up on it can never be
// taken for a newer op's.
import { CQE_F_MORE, type Ring } from '../protocol/ring.js';

/** What submits ops to the ring and takes their completions. */
export interface CompletionOwner {
  /** for stats and errors ("timers", "tcp :8080") */
  readonly name: string;
  /**
   * One completion of an op this owner registered with `token`. `more`:
   * a multishot op will complete again; false is the op's last completion.
   */
  complete(token: number, res: number, flags: number, more: boolean): void;
}

export interface CompletionStats {
  /** ops registered whose last completion has not arrived */
  registered: number;
  /** completions routed to an owner */
  delivered: number;
  /** completions of ops whose owner let go of them (forget) or that need no owner (ignore) */
  dropped: number;
  /** completions whose userData nothing registered: a bug, counted instead of thrown in the loop */
  stray: number;
}

interface Entry {
  owner: CompletionOwner | undefined; // undefined: forgotten or ignored, completions dropped
  token: number;
  multishot: boolean;
}

const MAX_USER_DATA = 2 ** 53;

export class CompletionRegistry {
  readonly #ring: Ring;
  readonly #entries = new Map<number, Entry>();
  #next = 1;
  #delivered = 0;
  #dropped = 0;
  #stray = 0;

  constructor(ring: Ring) {
    this.#ring = ring;
  }

  /**
   * The userData for one op of `owner`: pass it to the ring op. Its
   * completion goes to owner.complete(token, ...); a multishot op's until
   * one comes without CQE_F_MORE.
   */
  register(owner: CompletionOwner, token: number, multishot = false): number {
    const ud = this.#id();
    this.#entries.set(ud, { owner, token, multishot });
    return ud;
  }

  /** The userData for an op whose completion nobody needs (e.g. a cancel request): it is dropped when it comes. */
  ignore(): number {
    const ud = this.#id();
    this.#entries.set(ud, { owner: undefined, token: 0, multishot: false });
    return ud;
  }

  /**
   * The owner gives up on op `userData` (it cancelled it, or is closing):
   * its remaining completions are dropped. The entry stays until the
   * kernel's last completion, so the id is not reused while the kernel
   * may still answer it.
   */
  forget(userData: number): void {
    const e = this.#entries.get(userData);
    if (e) e.owner = undefined;
  }

  /** Whether op `userData` still waits for (another) completion. */
  has(userData: number): boolean {
    return this.#entries.has(userData);
  }

  /** Routes every completion of the ring's last turn() to its owner, in order. */
  deliver(): void {
    const ring = this.#ring;
    for (let i = 0, n = ring.count; i < n; i++) {
      const ud = ring.userDataAt(i);
      const e = this.#entries.get(ud);
      if (e === undefined) {
        this.#stray++;
        continue;
      }
      const flags = ring.flagsAt(i);
      const more = e.multishot && (flags & CQE_F_MORE) !== 0;
      if (!more) this.#entries.delete(ud);
      if (e.owner === undefined) {
        this.#dropped++;
        continue;
      }
      this.#delivered++;
      e.owner.complete(e.token, ring.resultAt(i), flags, more);
    }
  }

  stats(): CompletionStats {
    return { registered: this.#entries.size, delivered: this.#delivered, dropped: this.#dropped, stray: this.#stray };
  }

  #id(): number {
    if (this.#next >= MAX_USER_DATA) throw new RangeError('CompletionRegistry: 2^53 ring ops registered; userData exhausted');
    return this.#next++;
  }
}
