#!/usr/bin/env node
// The `tally` command. `npm install` builds dist/ (the `prepare` script).
import '../dist/cli/main.js'
