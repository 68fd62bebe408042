import { HistoryPage, HistoryPageQuery, historyWindow } from '../common/page.query';
import { newId } from '../common/ids';
import { Injectable } from '@nestjs/common';
import { KeyLimits } from '../auth/key-limits';
import type { Principal } from '../auth/request-principal';
import { Clock } from '../common/clock';
import { Transactor, Tx } from '../database/transactor';
import { fingerprintOf } from '../incidents/domain/fingerprint';
import type { IncomingAlert } from '../incidents/domain/incoming-alert';
import { AlertFolding } from '../incidents/alert-folding.service';
import { IncidentsService } from '../incidents/incidents.service';
import { AlertIntegration, AlertResult, MetricsService } from '../metrics/metrics.service';
import type { AlertAnswer, StoredAlert } from './alert';
import { AlertRepository } from './alert.repository';
import type { AlertDto } from './dto/alert.dto';

@Injectable()
export class AlertsService {
  constructor(
    private readonly repository: AlertRepository,
    private readonly incidents: IncidentsService,
    private readonly folding: AlertFolding,
    private readonly transactor: Transactor,
    private readonly clock: Clock,
    private readonly limits: KeyLimits,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Stores validated alerts and folds each into an incident, all in one transaction: a batch is
   * committed whole before it is answered, one answer per alert in order. Concurrent requests
   * share a group commit (see Transactor.runGrouped). `caller`: the API key of the request, for
   * its ingest limit and the timeline.
   */
  async ingest(alerts: AlertDto[], caller?: Principal, integration: AlertIntegration = 'api'): Promise<AlertAnswer[]> {
    // Before anything is written: a refused request leaves nothing behind.
    this.metrics.rejectedIfThrows(integration, alerts, () => this.limits.takeIngest(caller?.keyId, alerts.length));
    const receivedAt = this.clock.now().toISOString();
    return this.transactor.runGrouped(async (tx) => {
      const answers: AlertAnswer[] = [];
      for (const dto of alerts) {
        answers.push(await this.ingestWithin(tx, dto, receivedAt, caller, integration));
        await tx.pace();
      }
      return answers;
    }, alerts.length);
  }

  /**
   * One validated alert inside the caller's transaction, for the integrations, whose requests also
   * write upstream state and may resolve incidents in the same transaction. The caller has taken
   * the ingest limit.
   */
  async ingestWithin(tx: Tx, dto: AlertDto, receivedAt: string, caller?: Principal, integration: AlertIntegration = 'api'): Promise<AlertAnswer> {
    // null, as senders write "no id", counts as absent (incomingAlert stores it as NULL too).
    if (dto.external_id !== undefined && dto.external_id !== null) {
      const prior = await this.repository.findByExternalId(tx, dto.source, dto.external_id);
      if (prior) {
        this.countOnCommit(tx, dto.source, 'duplicate', integration);
        return {
          alert_id: prior.id,
          incident_id: prior.incident_id,
          status: prior.status,
          message: `alert with external_id ${dto.external_id} from ${dto.source} was already received; not counted again`,
        };
      }
    }
    const alert = incomingAlert(dto, receivedAt);
    // An integration's alerts carry the sender's own notion of "the same" (a group, a dedup_key).
    const outcome = await this.folding.absorbAlert(tx, alert, caller?.name, integration !== 'api');
    const stored: StoredAlert = { ...alert, incident_id: outcome.incident_id, status: outcome.status };
    this.repository.insert(tx, stored);
    this.countOnCommit(tx, dto.source, outcome.status === 'Accepted' ? 'accepted' : 'duplicate', integration);
    return {
      alert_id: alert.id,
      incident_id: outcome.incident_id,
      status: outcome.status,
      message: outcome.status === 'Accepted' ? 'new incident opened' : 'folded into the open incident with the same fingerprint',
    };
  }

  /** Counted once committed: a transaction that is rolled back and run again counts once. */
  private countOnCommit(tx: Tx, source: string, result: AlertResult, integration: AlertIntegration): void {
    tx.afterCommit(() => this.metrics.alertReceived(source, result, integration));
  }

  /** A page of the alerts folded into an incident, oldest first, and how many there are. */
  async listForIncident(incidentId: string, query: HistoryPageQuery = {}): Promise<HistoryPage<StoredAlert>> {
    await this.incidents.assertExists(incidentId);
    return this.repository.listByIncident(incidentId, historyWindow(query));
  }
}

function incomingAlert(dto: AlertDto, receivedAt: string): IncomingAlert {
  const affected_services = [...new Set(dto.affected_services ?? [])];
  return {
    id: newId(),
    source: dto.source,
    title: dto.title,
    description: dto.description,
    severity: dto.severity,
    alert_type: dto.alert_type,
    fingerprint: fingerprintOf({ ...dto, affected_services }),
    received_at: receivedAt,
    external_id: dto.external_id ?? null,
    dedup_key: dto.dedup_key ?? null,
    labels: dto.labels ?? {},
    affected_services,
    runbook_url: dto.runbook_url ?? null,
    annotations: dto.annotations ?? {},
  };
}
