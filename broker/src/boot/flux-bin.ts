// The `flux` command line's entry (dist/flux.js and dist/bin/flux): runs the bundle through the code cache.
import * as path from 'node:path';
import { runBundle } from './compile-cache';

runBundle(path.join(__dirname, 'flux-main.js'));
