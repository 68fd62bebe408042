import { applyDecorators } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { Tx } from '../database/tx';
import { IncidentEvent, IncidentEventName } from './domain/events';

/**
 * Emitted (awaited) inside the transaction of an incident change, before it commits, for work
 * that must commit with it, such as the notification outbox. Listeners subscribe with
 * `@OnEvent(INCIDENT_CHANGE_IN_TRANSACTION, { suppressErrors: false })`: one that throws rolls
 * the change back. The incident's own event (`event.name`) is emitted once the change has
 * committed. The incidents module never imports its listeners.
 */
export const INCIDENT_CHANGE_IN_TRANSACTION = 'incident.change.in-transaction';

export class IncidentChangeInTransaction {
  constructor(
    readonly tx: Tx,
    readonly event: IncidentEvent,
  ) {}
}

/** Subscribes a method to every incident event, each emitted once its change has committed. */
export function OnCommittedIncidentEvent(): MethodDecorator {
  return applyDecorators(...Object.values(IncidentEventName).map((name) => OnEvent(name)));
}
