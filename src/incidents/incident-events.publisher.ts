import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { Tx } from '../database/transactor';
import type { IncidentEvent } from './domain/events';
import { INCIDENT_CHANGE_IN_TRANSACTION, IncidentChangeInTransaction } from './incident-change.event';

/** Publishes incident changes: to the in-transaction listeners at once, to the others once committed. */
@Injectable()
export class IncidentEventPublisher {
  // Logged under the context these lines always had.
  private readonly logger = new Logger('IncidentsService');

  constructor(private readonly events: EventEmitter2) {}

  /** Lets the in-transaction listeners write now, and emits the event only once the transaction commits. */
  async publish(tx: Tx, event: IncidentEvent): Promise<void> {
    await this.events.emitAsync(INCIDENT_CHANGE_IN_TRANSACTION, new IncidentChangeInTransaction(tx, event));
    tx.afterCommit(() => {
      // Listeners run now, in commit order; an async one that fails is logged, never unhandled.
      this.events.emitAsync(event.name, event).catch((err: unknown) => {
        this.logger.error({ msg: 'incident event listener failed', event: event.name, incident_id: event.incident.id, err: String(err) });
      });
    });
  }
}
