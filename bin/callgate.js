#!/usr/bin/env node
// Compiled by `npm run build` (run by `npm ci` through the prepare script).
import '../dist/cli.js';
