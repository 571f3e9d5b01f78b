// Preloaded (`node --require`) by the bench into a process it spawns: at exit, appends the
// process's peak resident set size (KiB, getrusage: every thread's, workers included) to the
// file named by $BENCH_MAXRSS_FILE, one line per process.
'use strict';
process.on('exit', () => require('node:fs').appendFileSync(process.env.BENCH_MAXRSS_FILE, `${process.resourceUsage().maxRSS}\n`));
