import { Matcher, parseMatchers } from '../routing/matchers';

export const SILENCE_STATES = ['pending', 'active', 'expired'] as const;
export type SilenceState = (typeof SILENCE_STATES)[number];

/** A silence as the API shows it: a pending one (starting later) is a maintenance window. */
export interface Silence {
  id: string;
  matchers: string[];
  starts_at: string;
  ends_at: string;
  comment: string;
  created_by: string;
  api_key_name: string | null;
  created_at: string;
  updated_at: string;
  state: SilenceState;
}

/** A silence with its matchers parsed, for matching. */
export interface LiveSilence extends Silence {
  parsed: Matcher[];
}

export function stateOf(silence: { starts_at: string; ends_at: string }, now: string): SilenceState {
  if (now < silence.starts_at) return 'pending';
  return now < silence.ends_at ? 'active' : 'expired';
}

export function parsedMatchers(written: readonly string[]): Matcher[] {
  return written.flatMap((m) => parseMatchers(m));
}
