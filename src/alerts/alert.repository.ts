import { Inject, Injectable } from '@nestjs/common';
import { Kysely, Selectable } from 'kysely';
import type { AlertRow, Database } from '../database/schema';
import { selectWhereEqual } from '../database/cached-queries';
import { DATABASE } from '../database/tokens';
import type { Tx } from '../database/transactor';
import type { IncidentType, Severity } from '../incidents/domain/incident';
import type { StoredAlert } from './alert';

export const alertMapper = {
  toRow(alert: StoredAlert): AlertRow {
    return {
      ...alert,
      labels: JSON.stringify(alert.labels),
      affected_services: JSON.stringify(alert.affected_services),
      annotations: JSON.stringify(alert.annotations),
    };
  },
  toDomain(row: Selectable<AlertRow>): StoredAlert {
    return {
      ...row,
      status: row.status as StoredAlert['status'],
      severity: row.severity as Severity,
      alert_type: row.alert_type as IncidentType,
      labels: JSON.parse(row.labels) as Record<string, string>,
      affected_services: JSON.parse(row.affected_services) as string[],
      annotations: JSON.parse(row.annotations) as Record<string, string>,
    };
  },
};

@Injectable()
export class AlertRepository {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async findByExternalId(tx: Tx, source: string, externalId: string): Promise<StoredAlert | null> {
    // An alert of this transaction (an earlier one of the batch or group) is not written yet.
    const waiting = tx.deferred('alerts').find((row) => row.source === source && row.external_id === externalId);
    if (waiting) return alertMapper.toDomain(waiting as AlertRow);
    const [row] = await selectWhereEqual(tx, 'alerts', { source, external_id: externalId });
    return row ? alertMapper.toDomain(row) : null;
  }

  /** Written with the transaction's other deferred rows, before it commits. */
  insert(tx: Tx, alert: StoredAlert): void {
    tx.deferInsert('alerts', alertMapper.toRow(alert));
  }

  async listByIncident(incidentId: string, window: { limit: number; offset: number }): Promise<{ items: StoredAlert[]; total: number }> {
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('alerts')
        .selectAll()
        .where('incident_id', '=', incidentId)
        .orderBy('received_at')
        .orderBy('id')
        .limit(window.limit)
        .offset(window.offset)
        .execute(),
      this.db
        .selectFrom('alerts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('incident_id', '=', incidentId)
        .executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(alertMapper.toDomain), total: Number(count.n) };
  }
}
