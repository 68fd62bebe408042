import { Inject, Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Database, UpstreamAlertRow } from '../database/schema';
import { DATABASE } from '../database/tokens';
import type { Tx } from '../database/transactor';

/** An incident's upstream alerts shown at most (a group rarely holds more than a few dozen). */
export const MAX_UPSTREAM_ALERTS = 1000;

@Injectable()
export class UpstreamAlertRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  /** The incident's upstream alerts, firing ones first, then by when they started. */
  async listFor(incidentId: string): Promise<UpstreamAlertRow[]> {
    return this.db
      .selectFrom('upstream_alerts')
      .selectAll()
      .where('incident_id', '=', incidentId)
      .orderBy('status')
      .orderBy('starts_at')
      .orderBy('fingerprint')
      .limit(MAX_UPSTREAM_ALERTS)
      .execute();
  }

  /**
   * Records the alert as firing in the incident it folded into (again firing, after a flap). A
   * late repeat of an older firing does not overwrite a newer one.
   */
  async markFiring(tx: Tx, row: Omit<UpstreamAlertRow, 'status' | 'ends_at'>): Promise<void> {
    await tx.db
      .insertInto('upstream_alerts')
      .values({ ...row, status: 'firing', ends_at: null })
      .onConflict((oc) =>
        oc
          .columns(['incident_id', 'integration', 'fingerprint'])
          .doUpdateSet({ status: 'firing', ends_at: null, starts_at: row.starts_at, updated_at: row.updated_at })
          .where('upstream_alerts.starts_at', '<=', row.starts_at),
      )
      .execute();
  }

  /**
   * Marks the alert resolved wherever it is firing since `startsAt` or earlier, in one statement
   * (no firing can slip in between a read and the write), and answers those incidents. A
   * resolution of an older firing, arriving late, leaves a newer firing of the same alert alone.
   */
  async resolveFiring(tx: Tx, integration: string, fingerprint: string, startsAt: string, endsAt: string | null, now: string): Promise<string[]> {
    const rows = await tx.db
      .updateTable('upstream_alerts')
      .set({ status: 'resolved', ends_at: endsAt, updated_at: now })
      .where('integration', '=', integration)
      .where('fingerprint', '=', fingerprint)
      .where('status', '=', 'firing')
      .where('starts_at', '<=', startsAt)
      .returning('incident_id')
      .execute();
    return rows.map((r) => r.incident_id);
  }

  /** Upstream alerts of the incident, firing and resolved. */
  async countsFor(tx: Tx, incidentId: string): Promise<{ firing: number; total: number }> {
    const rows = await tx.db.selectFrom('upstream_alerts').select('status').where('incident_id', '=', incidentId).execute();
    return { firing: rows.filter((r) => r.status === 'firing').length, total: rows.length };
  }
}
