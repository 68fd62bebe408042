'use strict';
/**
 * Counts the SQLite statements the service runs, by SQL text.
 *
 * Preloaded into the service (`BENCH_NODE_ARGS="-r ./bench/sql-count.js"`) with BENCH_SQL_COUNT
 * naming a file, it counts better-sqlite3's run / get / all / iterate (and exec) calls and writes
 * the counts as JSON on SIGUSR2 (bench/lib.js sends it before stopping the service, as for
 * bench/cpu-profile.js). Run as a script, it prints those counts per alert, by statement kind:
 *
 *   BENCH_SQL_COUNT=/tmp/sql.json BENCH_NODE_ARGS="-r ./bench/sql-count.js" \
 *     node bench/notifications.js --target service --mode burst --n 10000 --batch 1 --c 32
 *   node bench/sql-count.js /tmp/sql.json 10000
 */
const { readFileSync, writeFileSync } = require('node:fs');

function countInService(file) {
  const Database = require('better-sqlite3');
  const counts = new Map();
  const micros = new Map();
  const count = (sql) => counts.set(sql, (counts.get(sql) ?? 0) + 1);
  // The time each statement takes in SQLite (better-sqlite3 runs it synchronously), by SQL text.
  const timed = (sql, run) => {
    const started = process.hrtime.bigint();
    try {
      return run();
    } finally {
      micros.set(sql, (micros.get(sql) ?? 0) + Number(process.hrtime.bigint() - started) / 1000);
    }
  };
  const wrapped = new WeakSet();
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (...args) {
    const statement = prepare.apply(this, args);
    const proto = Object.getPrototypeOf(statement);
    if (!wrapped.has(proto)) {
      wrapped.add(proto);
      for (const method of ['run', 'get', 'all', 'iterate']) {
        const original = proto[method];
        proto[method] = function (...params) {
          count(this.source);
          return timed(this.source, () => original.apply(this, params));
        };
      }
    }
    return statement;
  };
  const exec = Database.prototype.exec;
  Database.prototype.exec = function (sql) {
    count(sql);
    return timed(sql, () => exec.call(this, sql));
  };
  process.on('SIGUSR2', () =>
    writeFileSync(file, JSON.stringify(Object.fromEntries([...counts].map(([sql, n]) => [sql, { n, us: Math.round(micros.get(sql) ?? 0) }])), null, 1)),
  );
}

/** "insert into alerts", "select incidents", "begin", …: the verb and the first table named. */
function kindOf(sql) {
  const text = sql.toLowerCase().replace(/"/g, '');
  const verb = text.split(/\s+/)[0];
  const table = /(?:into|from|update)\s+([a-z_]+)/.exec(text)?.[1] ?? '';
  return `${verb} ${table}`.trim();
}

function summarize(file, alerts) {
  const counts = JSON.parse(readFileSync(file, 'utf8'));
  const kinds = new Map();
  const total = { n: 0, us: 0 };
  for (const [sql, { n, us }] of Object.entries(counts)) {
    // Start-up (migrations, schema reads) is not per alert.
    if (n < alerts / 1000 || /kysely_|sqlite_master|^\s*(create|pragma)/i.test(sql)) continue;
    const kind = kinds.get(kindOf(sql)) ?? { n: 0, us: 0 };
    kinds.set(kindOf(sql), { n: kind.n + n, us: kind.us + us });
    total.n += n;
    total.us += us;
  }
  console.log('statements per alert   µs in SQLite per alert   kind');
  for (const [kind, { n, us }] of [...kinds, ['(all)', total]].sort((a, b) => b[1].n - a[1].n))
    console.log(`${(n / alerts).toFixed(3).padStart(21)}   ${(us / alerts).toFixed(1).padStart(22)}   ${kind}`);
}

if (require.main === module) summarize(process.argv[2], Number(process.argv[3]));
else if (process.env.BENCH_SQL_COUNT) countInService(process.env.BENCH_SQL_COUNT);
