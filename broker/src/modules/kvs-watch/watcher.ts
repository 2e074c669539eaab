/** What kvs-watch keeps per watcher and per namespace, and the lookup flags it handles. */
import { FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ } from '../../common/libkvs/lookup';
export {
  FLUX_KVS_WATCH, FLUX_KVS_WAITCREATE, FLUX_KVS_WATCH_FULL, FLUX_KVS_WATCH_UNIQ, FLUX_KVS_WATCH_APPEND, FLUX_KVS_STREAM,
} from '../../common/libkvs/lookup';
import type { TreeObj } from '../../common/libkvs/treeobj';
import type { Responder } from '../../broker/service';

/** The flags kvs.lookup itself understands; the rest is this module's business. */
export const LOOKUP_FLAGS = FLUX_KVS_READDIR | FLUX_KVS_READLINK | FLUX_KVS_TREEOBJ;

export interface Commit {
  rootref: string;
  rootseq: number;
  /** Keys the commit named; null when the root came from getroot or a `created` event. */
  keys: string[] | null;
}

export type LookupAnswer = { val: TreeObj } | { errnum: number };

export interface Watcher {
  r: Responder;
  /** The client's identity: the oldest hop of the request's route. */
  sender: string;
  matchtag: number;
  userid: number;
  rolemask: number;
  key: string;
  flags: number;
  ns: Namespace;
  /** Root sequence of the last lookup issued (-1: none yet). */
  rootseq: number;
  responded: boolean;
  /** Answered for good (error, ENODATA, one-shot value); later results are dropped. */
  done: boolean;
  /** One-shot lookups (no WATCH, no WAITCREATE): the single lookup has been issued. */
  issued: boolean;
  /** WATCH_UNIQ/WATCH_FULL: the encoded value last sent. */
  prev?: string;
  /** WATCH_APPEND: blobs of the valref already sent (a plain val counts as one). */
  appendOffset: number;
  /** Results are handled in root order along this chain. */
  tail: Promise<void>;
}

export interface Namespace {
  name: string;
  /** Namespace owner; USERID_UNKNOWN until getroot or an event says. */
  owner: number;
  commit?: Commit;
  /** getroot failed (ENOTSUP: no such namespace yet); WAITCREATE watchers keep waiting. */
  errnum: number;
  /** The namespace was removed: every watcher ends with this. */
  fatal: number;
  watchers: Set<Watcher>;
  topic: string;
}

