import { Injectable } from '@nestjs/common';
import type { UpstreamAlertRow } from '../database/schema';
import type { Tx } from '../database/transactor';

@Injectable()
export class UpstreamAlertRepository {
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
