#!/usr/bin/env node
// The `flux` command: runs the bundled CLI (built by `npm run build`, also on `npm ci`).
'use strict';
const path = require('path');
const fs = require('fs');
const cli = path.join(__dirname, '..', '..', 'dist', 'flux.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('flux: the CLI is not built yet: run `npm run build` in ' + path.resolve(__dirname, '..', '..') + '\n');
  process.exit(1);
}
require(cli);
