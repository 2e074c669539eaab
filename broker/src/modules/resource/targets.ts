/**
 * Drain/undrain targets (flux-core's inventory_targets_to_ranks): an RFC 22
 * idset of ranks, or else an RFC 29 hostlist whose every host names the ranks
 * running there (several ranks may share a host: all of them). And the other
 * way, ranks to the hostlist written into drain events (flux_hostmap_lookup,
 * from the broker's `hostlist` attribute).
 */
import { errno, FluxError } from '../../common/libflux/errno';
import { decodeHostlist, encodeHostlist } from '../../common/libhostlist/hostlist';
import { decodeIdset, isIdset } from '../../common/libidset/idset';

export class Targets {
  /** Hostname of each rank (index = rank). */
  private hosts: string[];

  constructor(hosts: string[]) {
    this.hosts = hosts;
  }

  /** R's nodelist, once known, is the authority for hostnames (as flux-core maps hosts through R). */
  setHosts(hosts: string[]): void {
    if (hosts.length > 0) this.hosts = hosts;
  }

  toRanks(targets: string): number[] {
    if (isIdset(targets) || targets.trim() === '') return decodeIdset(targets);
    let hosts: string[];
    try {
      hosts = decodeHostlist(targets);
    } catch {
      throw new FluxError(errno.EINVAL, `invalid targets: Invalid hostlist '${targets}'`);
    }
    const ranks = new Set<number>();
    for (const host of hosts) {
      let found = false;
      this.hosts.forEach((h, rank) => {
        if (h === host) {
          ranks.add(rank);
          found = true;
        }
      });
      if (!found) throw new FluxError(errno.EINVAL, `invalid targets: invalid hostname: ${host}`);
    }
    return [...ranks].sort((a, b) => a - b);
  }

  nodelist(ranks: number[]): string {
    return encodeHostlist(ranks.map((r) => this.hosts[r] ?? ''));
  }

  hostOf(rank: number): string {
    return this.hosts[rank] ?? '';
  }
}
