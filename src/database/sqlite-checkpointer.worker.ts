/**
 * The checkpointer's thread (see SqliteCheckpointer): PASSIVE checkpoints on a connection of its
 * own every `intervalMs`, a RESTART once the WAL is past `maxWalBytes` and fully copied (or past
 * four times that, regardless).
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointerData {
  path: string;
  intervalMs: number;
  maxWalBytes: number;
}

const data = workerData as CheckpointerData;
const port = parentPort!;
const db = new Database(data.path);
db.pragma('busy_timeout = 5000');

function walBytes(): number {
  try {
    return statSync(`${data.path}-wal`).size;
  } catch {
    return 0;
  }
}

const timer = setInterval(() => {
  try {
    const [progress] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
    const size = walBytes();
    // RESTART once everything is copied (it then has nothing to copy or sync, and holds the
    // write lock only for a moment); past the hard limit, restart anyway.
    if ((size > data.maxWalBytes && progress.log === progress.checkpointed) || size > 4 * data.maxWalBytes) {
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, data.intervalMs);

port.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Closing is what matters now; the next start checkpoints anyway.
  }
  db.close();
  port.postMessage({ stopped: true });
});
