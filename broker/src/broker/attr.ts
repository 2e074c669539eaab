/**
 * Broker attributes (flux-broker-attributes(7)) and the `attr.*` service:
 * attr.get {"name"} -> {"value","flags"}, attr.set, attr.rm, attr.list -> {"names"}.
 */
import { errno, FluxError } from '../common/libflux/errno';
import type { ServiceTable } from './service';

/** Set at boot and never changed afterwards (flux-core's FLUX_ATTRFLAG_IMMUTABLE). */
export const ATTR_IMMUTABLE = 1;

interface Entry {
  /** Undefined: the attribute exists but has no value (attr.get says ENOENT, lsattr -v prints "-"). */
  value: string | undefined;
  flags: number;
}

/** Checks a value before it is set; throws FluxError (EINVAL) when it is not acceptable. */
export type AttrValidator = (value: string) => void;

export class Attributes {
  private readonly table = new Map<string, Entry>();
  private readonly validators = new Map<string, AttrValidator>();

  /** Values of `name` must pass `fn` (flux-core's "active" attributes with setters). */
  addValidator(name: string, fn: AttrValidator): void {
    this.validators.set(name, fn);
  }

  /**
   * Check every value set so far (the `-S` ones at boot). Throws the first
   * failure as flux-broker reports it: `NAME: Invalid argument`.
   */
  checkAll(): void {
    for (const [name, fn] of this.validators) {
      const v = this.table.get(name)?.value;
      if (v === undefined) continue;
      try {
        fn(v);
      } catch (e) {
        if (e instanceof FluxError) throw new FluxError(e.errnum, `${name}: ${e.strerror}`);
        throw e;
      }
    }
  }

  /** An attribute that exists without a value, e.g. parent-uri of a top-level instance. */
  declare(name: string, flags = 0): void {
    if (!this.table.has(name)) this.table.set(name, { value: undefined, flags });
  }

  set(name: string, value: string, flags = 0): void {
    this.table.set(name, { value, flags });
  }

  /** Set only if not already set (defaults never override `-S` values). */
  setDefault(name: string, value: string, flags = 0): void {
    if (this.table.get(name)?.value === undefined) this.set(name, value, flags);
  }

  get(name: string): string | undefined {
    return this.table.get(name)?.value;
  }

  has(name: string): boolean {
    return this.table.has(name);
  }

  delete(name: string): void {
    this.table.delete(name);
  }

  names(): string[] {
    return [...this.table.keys()].sort();
  }

  registerService(services: ServiceTable): void {
    services.register('attr.get', (r) => {
      const { name } = r.json<{ name?: unknown }>();
      if (typeof name !== 'string') throw new FluxError(errno.EPROTO);
      const e = this.table.get(name);
      if (e?.value === undefined) throw new FluxError(errno.ENOENT);
      r.respond({ value: e.value, flags: e.flags });
    });
    services.register('attr.set', (r) => {
      const { name, value } = r.json<{ name?: unknown; value?: unknown }>();
      if (typeof name !== 'string' || typeof value !== 'string') throw new FluxError(errno.EPROTO);
      const e = this.table.get(name);
      if (e && e.flags & ATTR_IMMUTABLE) throw new FluxError(errno.EPERM);
      this.validators.get(name)?.(value);
      this.set(name, value, e?.flags ?? 0);
      r.respond({});
    });
    services.register('attr.rm', (r) => {
      const { name } = r.json<{ name?: unknown }>();
      if (typeof name !== 'string') throw new FluxError(errno.EPROTO);
      const e = this.table.get(name);
      if (!e) throw new FluxError(errno.ENOENT);
      if (e.flags & ATTR_IMMUTABLE) throw new FluxError(errno.EPERM);
      this.table.delete(name);
      r.respond({});
    });
    services.register('attr.list', (r) => {
      r.respond({ names: this.names() });
    });
  }
}
