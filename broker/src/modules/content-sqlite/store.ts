/**
 * The content-sqlite backing store: blobs and KVS checkpoints in one SQLite file, in flux-core's
 * own layout so either implementation can reopen the other's file.
 *
 * Layout (flux-core content-sqlite.c):
 *   objects(hash BLOB PRIMARY KEY, size INT, object BLOB)
 *     hash   the raw digest (20 bytes for sha1), bound as TEXT: flux-core binds it with
 *            sqlite3_bind_text(), so the stored value has storage class TEXT even though the
 *            column says BLOB. SQLite never finds a TEXT key with a BLOB probe, so we bind it the
 *            same way (CAST(? AS TEXT), which keeps the bytes as they are).
 *     size   -1 when `object` is the blob itself; otherwise the uncompressed size and `object` is
 *            an LZ4 block (no header). Blobs of 256 bytes or more are compressed.
 *     A newer flux-core adds `epoch INT DEFAULT 0` (garbage collection) by ALTER TABLE; files with
 *     that column work unchanged here (inserts leave it at its default).
 *   checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT)
 *     one row per checkpoint, the JSON text as received re-encoded compact (key order kept),
 *     newest = largest id, pruned to the newest max_checkpoints (default 5). A legacy
 *     checkpt(key TEXT UNIQUE, value TEXT) table is migrated (key "kvs-primary") and dropped.
 *   Pragmas: journal_mode=WAL and synchronous=NORMAL by default (OFF/OFF when the state directory
 *   is thrown away at exit), locking_mode=EXCLUSIVE, and a quick_check at open.
 *
 * Corrupt files: flux-core refuses to load the module when opening or checking the database
 * fails, and so do we, with an error that says what was found (not an SQLite database, a
 * malformed image, unreadable) and what to do about it. We are stricter in one respect: flux-core
 * ignores the rows quick_check returns, we refuse a file whose quick_check is not "ok", because
 * serving from a damaged tree only moves the failure somewhere harder to diagnose. No SQLite error
 * escapes as anything but a FluxError with flux-core's errno mapping.
 *
 * Blocking: better-sqlite3 is synchronous. Single loads and stores are sub-millisecond. Stores
 * issued in the same tick are grouped into one transaction (like flux-core's group commit: a store
 * is answered only after the transaction holding it has committed), and large groups or
 * storeMany() calls are cut into chunks with a yield to the event loop between chunks, so a big
 * burst (e.g. a restore) never holds the loop for long. quick_check at open is proportional to
 * the file size; it runs once, at module load, as in flux-core.
 */
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { FluxError, errno } from '../../common/libflux/errno';
import { blobrefToDigest, digestToBlobref, hashDigestSize, hashRaw, type HashName } from '../../common/libcontent/blobref';
import { janssonDumps, type JsonValue } from '../../common/libkvs/jansson';
import { openError, sqliteError } from './errors';
import { lz4CompressBlock, lz4DecompressBlock } from './lz4';

export type JournalMode = 'DELETE' | 'TRUNCATE' | 'PERSIST' | 'MEMORY' | 'WAL' | 'OFF';
export type Synchronous = 'EXTRA' | 'FULL' | 'NORMAL' | 'OFF';

const JOURNAL_MODES: readonly string[] = ['DELETE', 'TRUNCATE', 'PERSIST', 'MEMORY', 'WAL', 'OFF'];
const SYNCHRONOUS: readonly string[] = ['EXTRA', 'FULL', 'NORMAL', 'OFF'];

/** Blobs this size or larger are stored LZ4-compressed (content-sqlite.c compression_threshold). */
export const COMPRESSION_THRESHOLD = 256;
export const MAX_CHECKPOINTS_DEFAULT = 5;
/** flux-core's KVS_DEFAULT_CHECKPOINT: the legacy checkpt table's key. */
const LEGACY_CHECKPOINT_KEY = 'kvs-primary';
/** Stores committed per transaction before yielding to the event loop. */
const CHUNK_COUNT = 512;
const CHUNK_BYTES = 8 * 1024 * 1024;

export interface ContentSqliteOptions {
  /** content.hash (default sha1). */
  hashName?: HashName;
  journalMode?: JournalMode;
  synchronous?: Synchronous;
  maxCheckpoints?: number;
  /** Start with an empty database: unlink any existing file first (module option "truncate"). */
  truncate?: boolean;
  /** Refuse blobs larger than this with EFBIG (content.blob-size-limit); unlimited if unset. */
  blobSizeLimit?: number;
}

const SQL_CREATE_OBJECTS = 'CREATE TABLE if not exists objects(  hash BLOB PRIMARY KEY,  size INT,  object BLOB);';
const SQL_CREATE_CHECKPT = 'CREATE TABLE if not exists checkpt_v2(  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,  value TEXT);';

interface PendingStore {
  data: Buffer;
  digest: Buffer;
  resolve: (digest: Buffer) => void;
  reject: (e: unknown) => void;
}

interface Statements {
  load: Statement<[Buffer], { object: Buffer | null; size: number | bigint | null }>;
  store: Statement<[Buffer, number, Buffer]>;
  validate: Statement<[Buffer], { found: number }>;
  checkptGet: Statement<[], { value: string | null }>;
  checkptPut: Statement<[string]>;
  checkptPrune: Statement<[number]>;
  count: Statement<[], { n: number }>;
}

export class ContentSqliteStore {
  readonly path: string;
  readonly hashName: HashName;
  readonly journalMode: JournalMode;
  readonly synchronous: Synchronous;
  readonly maxCheckpoints: number;
  private readonly hashSize: number;
  private readonly blobSizeLimit: number;
  private db: Db | undefined;
  private readonly st: Statements;
  private pending: PendingStore[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(path: string, db: Db, st: Statements, opts: Required<Omit<ContentSqliteOptions, 'truncate' | 'blobSizeLimit'>> & { blobSizeLimit?: number }) {
    this.path = path;
    this.db = db;
    this.st = st;
    this.hashName = opts.hashName;
    this.journalMode = opts.journalMode;
    this.synchronous = opts.synchronous;
    this.maxCheckpoints = opts.maxCheckpoints;
    this.hashSize = hashDigestSize(opts.hashName);
    this.blobSizeLimit = opts.blobSizeLimit ?? Infinity;
  }

  /**
   * Open (creating if needed) the database at `path`. Throws a FluxError explaining the problem
   * if the file is not a usable content store; never leaves a half-open handle behind.
   */
  static open(path: string, options: ContentSqliteOptions = {}): ContentSqliteStore {
    const hashName = options.hashName ?? 'sha1';
    hashDigestSize(hashName); // EINVAL for unknown hash names
    const journalMode = options.journalMode ?? 'WAL';
    const synchronous = options.synchronous ?? 'NORMAL';
    const maxCheckpoints = options.maxCheckpoints ?? MAX_CHECKPOINTS_DEFAULT;
    if (!JOURNAL_MODES.includes(journalMode)) throw new FluxError(errno.EINVAL, 'invalid journal_mode config');
    if (!SYNCHRONOUS.includes(synchronous)) throw new FluxError(errno.EINVAL, 'invalid synchronous config');
    if (!Number.isInteger(maxCheckpoints) || maxCheckpoints <= 0) throw new FluxError(errno.EINVAL, 'invalid max_checkpoints config');

    if (options.truncate) {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        try { fs.unlinkSync(f); } catch { /* absent is fine, as flux-core's unlink() */ }
      }
    }
    if (fs.existsSync(path)) {
      try {
        fs.accessSync(path, fs.constants.R_OK | fs.constants.W_OK);
      } catch (e) {
        throw new FluxError(FluxError.fromNode(e).errnum, `content-sqlite: ${path}: ${FluxError.fromNode(e).message}`);
      }
    }

    let db: Db | undefined;
    try {
      db = new Database(path);
      db.pragma(`journal_mode=${journalMode}`);
      db.pragma(`synchronous=${synchronous}`);
      db.pragma('locking_mode=EXCLUSIVE');
      const check = db.pragma('quick_check') as Array<Record<string, unknown>>;
      const problems = check.map((row) => String(Object.values(row)[0])).filter((s) => s !== 'ok');
      if (problems.length > 0) {
        throw new FluxError(errno.EINVAL, `content-sqlite: ${path} failed its integrity check: ` +
          `${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}; ` +
          'refusing to use it. Move the file aside to start with an empty content store, or restore it from a backup.');
      }
      db.exec(SQL_CREATE_OBJECTS);
      db.exec(SQL_CREATE_CHECKPT);
      const st: Statements = {
        load: db.prepare('SELECT object,size FROM objects  WHERE hash = CAST(? AS TEXT) LIMIT 1'),
        store: db.prepare('INSERT OR IGNORE INTO objects (hash,size,object)   values (CAST(? AS TEXT), ?, ?)'),
        validate: db.prepare('SELECT EXISTS(  SELECT 1 FROM objects WHERE hash = CAST(? AS TEXT)) AS found'),
        checkptGet: db.prepare('SELECT value FROM checkpt_v2 ORDER BY id DESC'),
        checkptPut: db.prepare('INSERT INTO checkpt_v2 (value) values (?)'),
        checkptPrune: db.prepare('DELETE FROM checkpt_v2 WHERE id IN (   SELECT id FROM checkpt_v2 ORDER BY id DESC LIMIT -1 OFFSET ? );'),
        count: db.prepare('SELECT count(1) AS n FROM objects'),
      };
      ContentSqliteStore.migrateLegacyCheckpoint(db);
      return new ContentSqliteStore(path, db, st, { hashName, journalMode, synchronous, maxCheckpoints, blobSizeLimit: options.blobSizeLimit });
    } catch (e) {
      try { db?.close(); } catch { /* already failing; the first error is the one to report */ }
      throw openError(path, e);
    }
  }

  /** content_sqlite_checkpt_migrate(): move a pre-v2 checkpoint into checkpt_v2, drop the table. */
  private static migrateLegacyCheckpoint(db: Db): void {
    const exists = db.prepare("SELECT tbl_name FROM sqlite_master where type = 'table' AND tbl_name = 'checkpt'").get();
    if (!exists) return;
    const row = db.prepare('SELECT value FROM checkpt  WHERE key = ?').get(LEGACY_CHECKPOINT_KEY) as { value?: unknown } | undefined;
    db.transaction(() => {
      if (row && typeof row.value === 'string') {
        try {
          JSON.parse(row.value);
        } catch {
          throw new FluxError(errno.EINVAL, 'invalid checkpoint format in legacy checkpt table');
        }
        db.prepare('INSERT INTO checkpt_v2 (value) values (?)').run(row.value);
      }
      db.exec('DROP TABLE IF EXISTS checkpt');
    })();
  }

  private ensureOpen(): void {
    if (!this.db) throw new FluxError(errno.EINVAL, 'content-sqlite: store is closed');
  }

  private get handle(): Db {
    if (!this.db) throw new FluxError(errno.EINVAL, 'content-sqlite: store is closed');
    return this.db;
  }

  /** Load a blob by raw digest (content-backing.load): EPROTO for a wrong-size digest, ENOENT if absent. */
  async loadDigest(digest: Uint8Array): Promise<Buffer> {
    if (digest.length !== this.hashSize) throw new FluxError(errno.EPROTO);
    // A blob stored in this tick may still be queued; answer from the queue.
    const key = Buffer.from(digest);
    const queued = this.pending.find((p) => p.digest.equals(key));
    if (queued) return Buffer.from(queued.data);
    this.ensureOpen();
    let row: { object: Buffer | null; size: number | bigint | null } | undefined;
    try {
      row = this.st.load.get(key);
    } catch (e) {
      throw sqliteError('load: executing stmt', e);
    }
    if (!row) throw new FluxError(errno.ENOENT);
    const object = row.object ?? Buffer.alloc(0);
    if (row.object !== null && !Buffer.isBuffer(row.object)) throw new FluxError(errno.EINVAL, 'load: selected value is not a blob');
    if (typeof row.size !== 'number' && typeof row.size !== 'bigint') throw new FluxError(errno.EINVAL, 'load: selected value is not an integer');
    const size = Number(row.size);
    if (size === -1) return Buffer.from(object);
    const data = lz4DecompressBlock(object, size);
    if (!data) throw new FluxError(errno.EINVAL, 'load: blob size mismatch');
    return data;
  }

  /** Load a blob by blobref. */
  async load(blobref: string): Promise<Buffer> {
    return this.loadDigest(blobrefToDigest(blobref));
  }

  /** Store a blob (content-backing.store); resolves to its raw digest once committed. */
  storeDigest(data: Uint8Array): Promise<Buffer> {
    try {
      this.ensureOpen();
      if (data.length > this.blobSizeLimit) throw new FluxError(errno.EFBIG);
    } catch (e) {
      return Promise.reject(e);
    }
    const buf = Buffer.from(data);
    const digest = hashRaw(this.hashName, buf);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ data: buf, digest, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Store a blob; resolves to its blobref. */
  async store(data: Uint8Array): Promise<string> {
    return digestToBlobref(this.hashName, await this.storeDigest(data));
  }

  /** Store many blobs, committed in chunks with yields between them. */
  async storeMany(blobs: readonly Uint8Array[]): Promise<string[]> {
    return Promise.all(blobs.map((b) => this.store(b)));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      // flushPending() settles every store it takes; the catch only keeps the chain usable.
      this.flushing = this.flushing.then(() => this.flushPending()).catch(() => undefined);
    });
  }

  /** Write queued stores, a bounded chunk per transaction, yielding between chunks. */
  private async flushPending(): Promise<void> {
    while (this.pending.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < this.pending.length && n < CHUNK_COUNT && (n === 0 || bytes < CHUNK_BYTES)) {
        bytes += this.pending[n].data.length;
        n++;
      }
      const chunk = this.pending.slice(0, n);
      let failure: unknown;
      try {
        const insert = this.handle.transaction((items: PendingStore[]) => {
          for (const p of items) this.insert(p.data, p.digest);
        });
        insert(chunk);
      } catch (e) {
        failure = sqliteError('store: executing stmt', e);
      }
      this.pending.splice(0, n);
      for (const p of chunk) {
        if (failure) p.reject(failure);
        else p.resolve(p.digest);
      }
      if (this.pending.length > 0) await new Promise<void>((r) => setImmediate(r));
    }
  }

  private insert(data: Buffer, digest: Buffer): void {
    let size = -1;
    let object = data;
    if (data.length >= COMPRESSION_THRESHOLD) {
      object = lz4CompressBlock(data);
      size = data.length;
    }
    this.st.store.run(digest, size, object);
  }

  /** content-backing.validate: ENOENT unless the blob is present. */
  async validate(blobref: string): Promise<void> {
    const digest = blobrefToDigest(blobref);
    if (digest.length !== this.hashSize) throw new FluxError(errno.EPROTO);
    if (this.pending.some((p) => p.digest.equals(digest))) return;
    let row: { found: number } | undefined;
    try {
      row = this.st.validate.get(digest);
    } catch (e) {
      throw sqliteError('validate: executing stmt', e);
    }
    if (!row || !row.found) throw new FluxError(errno.ENOENT);
  }

  /** Wait until every store issued so far is committed. */
  async flush(): Promise<void> {
    if (this.pending.length > 0) {
      this.flushing = this.flushing.then(() => this.flushPending()).catch(() => undefined);
    }
    await this.flushing;
  }

  /**
   * content-backing.checkpoint-put: record `value` (compact JSON, key order kept) after every
   * store issued before it has been committed, then keep only the newest maxCheckpoints.
   */
  async checkpointPut(value: JsonValue): Promise<void> {
    const text = janssonDumps(value, { compact: true });
    await this.flush();
    try {
      this.handle.transaction(() => {
        this.st.checkptPut.run(text);
        this.st.checkptPrune.run(this.maxCheckpoints);
      })();
    } catch (e) {
      throw sqliteError('checkpt_put: executing stmt', e);
    }
  }

  /** content-backing.checkpoint-get: all kept checkpoints, newest first; ENOENT if none. */
  async checkpointGet(): Promise<unknown[]> {
    let rows: Array<{ value: string | null }>;
    try {
      rows = this.st.checkptGet.all();
    } catch (e) {
      throw sqliteError('checkpt_get: executing stmt', e);
    }
    const out: unknown[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.value ?? ''));
      } catch (e) {
        throw new FluxError(errno.EINVAL, e instanceof Error ? e.message : 'invalid checkpoint value');
      }
    }
    if (out.length === 0) throw new FluxError(errno.ENOENT);
    return out;
  }

  /** Number of stored objects (stats "object_count"). */
  objectCount(): number {
    try {
      return this.st.count.get()?.n ?? 0;
    } catch (e) {
      throw sqliteError('querying objects count', e);
    }
  }

  /** Commit queued stores and close the file. */
  async close(): Promise<void> {
    if (!this.db) return;
    await this.flush();
    const db = this.db;
    this.db = undefined;
    db.close();
  }
}
