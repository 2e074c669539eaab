/**
 * content-sqlite's errors: flux-core's errno for each SQLite result code, and for a file that
 * cannot be used, a message an operator can act on (damaged, not a database, unreadable, or in
 * use by another instance).
 */
import { errno, FluxError } from '../../common/libflux/errno';

/** set_errno_from_sqlite_error(): flux-core's errno for an SQLite result code. */
export function errnoForSqlite(code: string | undefined): number {
  const primary = (code ?? '').replace(/^(SQLITE_[A-Z]+?)(_[A-Z_]+)?$/, '$1');
  switch (primary) {
    case 'SQLITE_IOERR': return errno.EIO;
    case 'SQLITE_NOMEM': return errno.ENOMEM;
    case 'SQLITE_ABORT':
    case 'SQLITE_PERM':
    case 'SQLITE_READONLY': return errno.EPERM;
    case 'SQLITE_TOOBIG': return errno.EFBIG;
    case 'SQLITE_FULL': return errno.ENOSPC;
    default: return errno.EINVAL;
  }
}

export function sqliteCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'string' ? c : undefined;
}

export function sqliteMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A FluxError for an SQLite failure, with flux-core's "what: message(code)" text. */
export function sqliteError(what: string, e: unknown): FluxError {
  if (e instanceof FluxError) return e;
  const code = sqliteCode(e);
  return new FluxError(errnoForSqlite(code), `${what}: ${sqliteMessage(e)}${code ? `(${code})` : ''}`);
}

/** Explain why a file could not be opened, in terms an operator can act on. */
export function openError(path: string, e: unknown): FluxError {
  if (e instanceof FluxError) return e;
  const code = sqliteCode(e) ?? '';
  const msg = sqliteMessage(e);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    // The file is fine: another broker holds it (its statedir is this one).
    return new FluxError(errno.EBUSY, `content-sqlite: ${path} is in use by another Flux instance (${msg}): ` +
      'stop that instance first, or start this one with another -S statedir.');
  }
  let what: string;
  if (code.startsWith('SQLITE_NOTADB')) {
    what = `${path} is not an SQLite database (${msg})`;
  } else if (code.startsWith('SQLITE_CORRUPT')) {
    what = `${path} is damaged: ${msg} (truncated or partly overwritten?)`;
  } else if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_READONLY')) {
    what = `${path} cannot be opened for reading and writing (${msg})`;
  } else {
    what = `${path}: ${msg}${code ? ` (${code})` : ''}`;
  }
  return new FluxError(errnoForSqlite(code), `content-sqlite: ${what}; refusing to use it. ` +
    'Move the file aside to start with an empty content store, or restore it from a backup.');
}
