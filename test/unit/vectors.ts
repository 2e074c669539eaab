/** Loads the wire recordings of a real flux-core 0.88 broker (../shared/vectors). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface VectorMessage {
  conn: number;
  dir: 'c2s' | 's2c';
  hex: string;
  decoded: {
    type: string;
    flags_hex: string;
    userid: number;
    rolemask: number;
    nodeid_or_errnum: number;
    matchtag: number;
    routes: string[];
    topic?: string;
    payload_text?: string | null;
    payload_hex?: string;
    payload_len?: number;
    frame_sizes: number[];
  };
}

export interface VectorFile {
  command: string;
  connections: { conn: number; handshake_hex: string }[];
  messages: VectorMessage[];
  output: string;
  exit_status: number;
}

export const VECTOR_DIR = path.resolve(__dirname, '../../../shared/vectors');

export function loadVectors(): Map<string, VectorFile> {
  if (!fs.existsSync(VECTOR_DIR)) {
    throw new Error(`${VECTOR_DIR} not found: the recorded flux-core vectors live in shared/ beside this repository (CI provides it)`);
  }
  const out = new Map<string, VectorFile>();
  for (const f of fs.readdirSync(VECTOR_DIR).filter((n) => n.endsWith('.json')).sort()) {
    out.set(f, JSON.parse(fs.readFileSync(path.join(VECTOR_DIR, f), 'utf8')) as VectorFile);
  }
  return out;
}
