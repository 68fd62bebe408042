import { DomainError, ErrorCode } from '../../common/domain-error';
import { IncidentState } from './incident';

/** The active states in lifecycle order; moves among them go forward only, skipping allowed. */
export const ACTIVE_STATES: readonly IncidentState[] = ['Detected', 'Triaged', 'Investigating', 'Remediating'];

export function isActive(state: IncidentState): boolean {
  return ACTIVE_STATES.includes(state);
}

export function canTransition(from: IncidentState, to: IncidentState): boolean {
  if (isActive(from)) {
    if (to === 'Resolved') return true;
    return isActive(to) && ACTIVE_STATES.indexOf(to) > ACTIVE_STATES.indexOf(from);
  }
  if (from === 'Resolved') return to === 'Closed' || to === 'Investigating';
  return false; // Closed is final.
}

export function assertTransition(from: IncidentState, to: IncidentState): void {
  if (from === 'Resolved' && to === 'Resolved') {
    throw new DomainError(ErrorCode.ALREADY_RESOLVED, 'incident is already resolved', { from, to });
  }
  if (!canTransition(from, to)) {
    throw new DomainError(ErrorCode.INVALID_TRANSITION, `cannot move an incident from ${from} to ${to}`, { from, to });
  }
}
