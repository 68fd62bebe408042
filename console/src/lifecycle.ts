import type { Incident, Session, State } from './types';

/**
 * What the incident page offers, from the incident's state and the key's scopes. The same moves
 * as the service's state machine (src/incidents/domain/state-machine.ts): active states go
 * forward only, Resolved goes to Closed or back to Investigating, Closed is final. A move the
 * API would refuse is never offered.
 */
const ACTIVE: readonly State[] = ['Detected', 'Triaged', 'Investigating', 'Remediating'];

export function canMove(from: State, to: State): boolean {
  if (ACTIVE.includes(from)) return to === 'Resolved' || (ACTIVE.includes(to) && ACTIVE.indexOf(to) > ACTIVE.indexOf(from));
  if (from === 'Resolved') return to === 'Closed' || to === 'Investigating';
  return false;
}

export function hasScope(scopes: readonly string[], scope: string): boolean {
  return scopes.includes('admin') || scopes.includes(scope);
}

/** Who the console acts as: the user the key belongs to, else the key's name. */
export function actorOf(session: Pick<Session, 'user_name' | 'key_name'>): string {
  return session.user_name || session.key_name;
}

export interface IncidentActions {
  acknowledge: boolean;
  /** Plain moves (Resolved and Closed have their own forms). */
  moves: State[];
  resolve: boolean;
  close: boolean;
  edit: boolean;
  note: boolean;
  redrive: boolean;
  silence: boolean;
}

export function actionsFor(incident: Pick<Incident, 'state' | 'acknowledged_at'>, scopes: readonly string[]): IncidentActions {
  const write = hasScope(scopes, 'incidents:write');
  const state = incident.state;
  const acknowledge = write && state === 'Detected' && incident.acknowledged_at === null;
  // From Detected, the move to Triaged is what "Acknowledge" does: it is offered once, by that name.
  const moves = write ? (['Triaged', 'Investigating', 'Remediating'] as State[]).filter((to) => canMove(state, to) && !(acknowledge && to === 'Triaged')) : [];
  return {
    acknowledge,
    moves,
    resolve: write && canMove(state, 'Resolved'),
    close: write && canMove(state, 'Closed'),
    edit: write && state !== 'Closed',
    note: write,
    redrive: hasScope(scopes, 'notifications:write'),
    silence: write,
  };
}

export function isOpen(state: State): boolean {
  return ACTIVE.includes(state);
}
