import { Logger } from '@nestjs/common';
import { Matcher, MatcherSyntaxError, parseMatchers } from '../routing/matchers';

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

/**
 * Matchers are parsed (and their patterns compiled by RE2) once per distinct text, not each time
 * a silence is read: every transaction that takes alerts reads the silences in force, and 50
 * silences of 50 long patterns cost a second to compile. Compiled matchers are immutable.
 */
const compiled = new Map<string, Matcher[]>();
const MAX_COMPILED = 10_000;

/**
 * A stored matcher, parsed as written when it was accepted. One that no longer parses (stored
 * before matchers became RE2, say) must not fail every transaction that reads the silences in
 * force: it matches nothing, and says so in the log once.
 */
function storedMatchers(text: string): Matcher[] {
  try {
    return parseMatchers(text);
  } catch (err) {
    if (!(err instanceof MatcherSyntaxError)) throw err;
    logger.warn({ msg: 'a stored silence matcher no longer parses; the silence matches nothing', matcher: text, err: err.message });
    return [NEVER];
  }
}

/** Compares the label named "" (which no incident has, so it reads as "") with a value it cannot be. */
const NEVER: Matcher = { name: '', operator: '=', value: '\u0000never' };
const logger = new Logger('Silences');

export function parsedMatchers(written: readonly string[]): Matcher[] {
  return written.flatMap((text) => {
    let parsed = compiled.get(text);
    if (!parsed) {
      parsed = storedMatchers(text);
      // Silences come and go; should their matchers ever overflow the cache, the oldest go first.
      if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
      compiled.set(text, parsed);
    }
    return parsed;
  });
}
