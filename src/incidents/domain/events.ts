import { Incident, IncidentState } from './incident';

/** Names of the domain events, one per lifecycle state plus updates. */
export const IncidentEventName = {
  Detected: 'incident.detected',
  Triaged: 'incident.triaged',
  Investigating: 'incident.investigating',
  Remediating: 'incident.remediating',
  Resolved: 'incident.resolved',
  Closed: 'incident.closed',
  Updated: 'incident.updated',
} as const;
export type IncidentEventName = (typeof IncidentEventName)[keyof typeof IncidentEventName];

/** Every incident event carries the incident exactly as it was committed. */
export abstract class IncidentEvent {
  abstract readonly name: IncidentEventName;
  constructor(
    readonly incident: Incident,
    readonly occurred_at: string,
    readonly actor: string,
  ) {}
}

export abstract class IncidentStateEvent extends IncidentEvent {
  constructor(
    incident: Incident,
    occurred_at: string,
    actor: string,
    /** null for a newly detected incident. */
    readonly previous_state: IncidentState | null,
  ) {
    super(incident, occurred_at, actor);
  }
}

export class IncidentDetectedEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Detected;
}
export class IncidentTriagedEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Triaged;
}
export class IncidentInvestigatingEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Investigating;
}
export class IncidentRemediatingEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Remediating;
}
export class IncidentResolvedEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Resolved;
}
export class IncidentClosedEvent extends IncidentStateEvent {
  readonly name = IncidentEventName.Closed;
}

/** A change other than a state move; `changes` names each field with its old and new value. */
export class IncidentUpdatedEvent extends IncidentEvent {
  readonly name = IncidentEventName.Updated;
  constructor(
    incident: Incident,
    occurred_at: string,
    actor: string,
    readonly changes: Record<string, { from: unknown; to: unknown }>,
  ) {
    super(incident, occurred_at, actor);
  }
}

const STATE_EVENTS = {
  Detected: IncidentDetectedEvent,
  Triaged: IncidentTriagedEvent,
  Investigating: IncidentInvestigatingEvent,
  Remediating: IncidentRemediatingEvent,
  Resolved: IncidentResolvedEvent,
  Closed: IncidentClosedEvent,
} as const;

export function stateEventFor(incident: Incident, occurred_at: string, actor: string, previous: IncidentState | null): IncidentStateEvent {
  return new STATE_EVENTS[incident.state](incident, occurred_at, actor, previous);
}
