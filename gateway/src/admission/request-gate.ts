/**
 * The admission decision for a new request, as one verdict: allow/deny lists first (a denied
 * client is dropped without a word: an answer would only help scanners and reflectors), then
 * the rate limits and session caps of Admission. A new admission rule goes here (a list-like
 * rule) or into Admission.admit (a counting rule), with its RefusalLimit in admission.ts; what
 * a refusal does (counted, answered if busy, sampled) stays in refusals.ts.
 */
import { ClientFilter } from '../transport/cidr.js';
import { REASON_OF_LIMIT, type Admission, type Verdict } from './admission.js';

export class RequestGate {
  private readonly filter: ClientFilter;

  constructor(
    lists: { allow: readonly string[]; deny: readonly string[] },
    private readonly admission: Admission,
  ) {
    this.filter = new ClientFilter(lists.allow, lists.deny);
  }

  /**
   * `retry`: the request was deferred once (busy) and already paid the rate limits; it is
   * looked at again for the session caps only.
   */
  decide(address: string, nowMs: number, retry: boolean): Verdict {
    if (!this.filter.permits(address)) {
      return { admitted: false, limit: 'deny-list', reason: REASON_OF_LIMIT['deny-list'], prefix: this.admission.prefixOf(address) };
    }
    return this.admission.admit(address, nowMs, { rateChecked: retry });
  }
}
