// The broker process's entry (dist/broker.js, one process per rank): runs the bundle through the code cache.
import * as path from 'node:path';
import { runBundle } from './compile-cache';

runBundle(path.join(__dirname, 'broker-main.js'));
