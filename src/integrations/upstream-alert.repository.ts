import { Injectable } from '@nestjs/common';
import type { UpstreamAlertRow } from '../database/schema';
import type { Tx } from '../database/transactor';

@Injectable()
export class UpstreamAlertRepository {
  /** Records the alert as firing in the incident it folded into (again firing, after a flap). */
  async markFiring(tx: Tx, row: Omit<UpstreamAlertRow, 'status' | 'ends_at'>): Promise<void> {
    await tx.db
      .insertInto('upstream_alerts')
      .values({ ...row, status: 'firing', ends_at: null })
      .onConflict((oc) =>
        oc
          .columns(['incident_id', 'integration', 'fingerprint'])
          .doUpdateSet({ status: 'firing', ends_at: null, starts_at: row.starts_at, updated_at: row.updated_at }),
      )
      .execute();
  }

  /** The incidents in which this upstream alert is firing. */
  async incidentsFiring(tx: Tx, integration: string, fingerprint: string): Promise<string[]> {
    const rows = await tx.db
      .selectFrom('upstream_alerts')
      .select('incident_id')
      .where('integration', '=', integration)
      .where('fingerprint', '=', fingerprint)
      .where('status', '=', 'firing')
      .execute();
    return rows.map((r) => r.incident_id);
  }

  async markResolved(tx: Tx, incidentId: string, integration: string, fingerprint: string, endsAt: string | null, now: string): Promise<void> {
    await tx.db
      .updateTable('upstream_alerts')
      .set({ status: 'resolved', ends_at: endsAt, updated_at: now })
      .where('incident_id', '=', incidentId)
      .where('integration', '=', integration)
      .where('fingerprint', '=', fingerprint)
      .execute();
  }

  /** Upstream alerts of the incident, firing and resolved. */
  async countsFor(tx: Tx, incidentId: string): Promise<{ firing: number; total: number }> {
    const rows = await tx.db.selectFrom('upstream_alerts').select('status').where('incident_id', '=', incidentId).execute();
    return { firing: rows.filter((r) => r.status === 'firing').length, total: rows.length };
  }
}
