'use strict';
/**
 * Preloaded into the service by the benchmarks when BENCH_CPU_PROFILE names a file
 * (`BENCH_NODE_ARGS="-r ./bench/cpu-profile.js"`): profiles the whole process with the inspector
 * and writes a .cpuprofile (Chrome DevTools format) on SIGUSR2. The service ends on a re-raised
 * SIGTERM, which --cpu-prof would not survive.
 */
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');

const file = process.env.BENCH_CPU_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')));
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
