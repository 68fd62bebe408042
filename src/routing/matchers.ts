import RE2 from 're2';
import { MAX_REPEATED_CHARACTERS, repeatedCharacters } from './regex-repetition';

/**
 * Label matchers as Alertmanager writes them: `name="value"`, `name!="value"`, `name=~"regex"`,
 * `name!~"regex"`, alone or several in `{a="b", c=~"d"}`. Values may be unquoted when they hold
 * no comma, brace or quote. Regexes are anchored at both ends, as in Alertmanager, and have
 * Alertmanager's semantics too: RE2 (Go's regexp), which matches in time linear in the input.
 * V8's backtracking engine took seconds on `(a+)+` against thirty a's and a `!`, holding the
 * event loop; RE2 has no backreferences or lookaround, so a pattern with them is refused.
 */

export const MATCH_OPERATORS = ['=', '!=', '=~', '!~'] as const;
export type MatchOperator = (typeof MATCH_OPERATORS)[number];

export interface Matcher {
  name: string;
  operator: MatchOperator;
  value: string;
  /** Set for =~ and !~: the anchored pattern, compiled by RE2. */
  regex?: { test(value: string): boolean };
}

/** Longest value (or pattern) one matcher may have. */
export const MAX_MATCHER_VALUE_LENGTH = 1024;

/** What routes and silences match on: the incident's fields and its labels. */
export interface MatchSubject {
  severity: string;
  source: string;
  incident_type: string;
  affected_resources: readonly string[];
  labels: Readonly<Record<string, string>>;
}

export class MatcherSyntaxError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]*$/;

/**
 * Parses one matcher string (which may hold several, in braces or separated by commas).
 * `limitRepetition`: refuse patterns whose counted repetitions expand past
 * MAX_REPEATED_CHARACTERS. Only for patterns a request brings (silences, the preview): the
 * operator's config file is trusted, and a silence stored before the limit must still be read.
 */
export function parseMatchers(text: string, options: { limitRepetition?: boolean } = {}): Matcher[] {
  let body = text.trim();
  if (body.startsWith('{')) {
    if (!body.endsWith('}')) throw new MatcherSyntaxError(`"${shown(text)}": missing closing }`);
    body = body.slice(1, -1).trim();
  }
  if (body === '') throw new MatcherSyntaxError(`"${shown(text)}": no matcher`);
  const out: Matcher[] = [];
  let i = 0;
  while (i < body.length) {
    const nameMatch = /^\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(=~|!~|!=|=)\s*/.exec(body.slice(i));
    if (!nameMatch) throw new MatcherSyntaxError(`"${shown(text)}": expected name, an operator (=, !=, =~, !~) and a value at "${shown(body.slice(i))}"`);
    const [whole, name, operator] = nameMatch;
    i += whole.length;
    let value: string;
    if (body[i] === '"') {
      // A quoted value, with \" \\ \n escapes.
      let j = i + 1;
      value = '';
      for (; j < body.length && body[j] !== '"'; j++) {
        if (body[j] === '\\' && j + 1 < body.length) {
          j++;
          value += body[j] === 'n' ? '\n' : body[j];
        } else value += body[j];
      }
      if (j >= body.length) throw new MatcherSyntaxError(`"${shown(text)}": unterminated quoted value`);
      i = j + 1;
    } else {
      const end = body.slice(i).search(/[,}"]/);
      value = (end === -1 ? body.slice(i) : body.slice(i, i + end)).trim();
      i += end === -1 ? body.length - i : end;
    }
    out.push(matcher(name, operator as MatchOperator, value, text, options.limitRepetition === true));
    const rest = /^\s*(,|$)\s*/.exec(body.slice(i));
    if (!rest) throw new MatcherSyntaxError(`"${shown(text)}": expected a comma after ${name}${operator}"${shown(value)}"`);
    i += rest[0].length;
    if (rest[1] === '') break;
  }
  return out;
}

function matcher(name: string, operator: MatchOperator, value: string, text: string, limitRepetition: boolean): Matcher {
  if (!NAME.test(name)) throw new MatcherSyntaxError(`"${shown(text)}": "${shown(name)}" is not a label name`);
  if (value.length > MAX_MATCHER_VALUE_LENGTH) {
    throw new MatcherSyntaxError(`"${shown(text)}": the value of ${name} is longer than ${MAX_MATCHER_VALUE_LENGTH} characters`);
  }
  if (operator === '=~' || operator === '!~') {
    const repeated = limitRepetition ? repeatedCharacters(value) : 0;
    if (repeated > MAX_REPEATED_CHARACTERS) {
      throw new MatcherSyntaxError(
        `"${shown(text)}": its counted repetitions ({n}, {n,m}) expand to ${repeated} characters, more than ${MAX_REPEATED_CHARACTERS}; such patterns are slow to match`,
      );
    }
    try {
      return { name, operator, value, regex: new RE2(`^(?:${value})$`, 'u') };
    } catch (err) {
      throw new MatcherSyntaxError(
        `"${shown(text)}": not a regular expression RE2 accepts (RE2 syntax, as Alertmanager's: no backreferences or lookaround): ${(err as Error).message}`,
      );
    }
  }
  return { name, operator, value };
}

/** A matcher as quoted in an error message: long ones are cut. */
function shown(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The matcher as Alertmanager prints it. */
export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.operator}${JSON.stringify(m.value)}`;
}

/** The values a matcher looks at: a field, the affected resources (each), or a label ("" when absent, as in Alertmanager). */
export function valuesOf(subject: MatchSubject, name: string): readonly string[] {
  switch (name) {
    case 'severity':
    case 'source':
    case 'incident_type':
      return [subject[name]];
    case 'affected_resources':
      return subject.affected_resources.length > 0 ? subject.affected_resources : [''];
    default:
      return [Object.hasOwn(subject.labels, name) ? subject.labels[name] : ''];
  }
}

/**
 * Whether the subject satisfies the matcher. For affected_resources (several values), = and =~
 * hold when any resource matches, != and !~ when none does.
 */
export function matches(m: Matcher, subject: MatchSubject): boolean {
  const values = valuesOf(subject, m.name);
  const equal = (v: string) => (m.regex ? m.regex.test(v) : v === m.value);
  const positive = m.operator === '=' || m.operator === '=~';
  return positive ? values.some(equal) : !values.some(equal);
}

export function matchesAll(matchers: readonly Matcher[], subject: MatchSubject): boolean {
  return matchers.every((m) => matches(m, subject));
}
