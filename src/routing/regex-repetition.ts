/**
 * RE2 matches in time linear in the input, but the constant is the size of the compiled program,
 * and counted repetitions multiply it: `.*a.{0,1000}` compiles to a thousand states and took
 * 22 ms on one 1,024-character label (`.*a.{0,100}`: 0.2 ms), `((.*a){100}){10}` 25–40 ms. So
 * the characters that counted repetitions expand to are counted (nested ones multiply) and a
 * pattern over MAX_REPEATED_CHARACTERS is refused. Literal text, `*`, `+` and `?` cost nothing
 * here: they do not grow the program past the pattern's own length, which is capped already.
 */
export const MAX_REPEATED_CHARACTERS = 100;

interface Frame {
  /** Characters (atoms) this group expands to. */
  size: number;
  /** Of those, how many come from counted repetitions. */
  repeated: number;
  /** The last atom, the one a quantifier that follows applies to. */
  last: { size: number; repeated: number } | null;
}

/** How many characters the counted repetitions of an RE2 pattern expand to, nested ones multiplied. */
export function repeatedCharacters(pattern: string): number {
  const stack: Frame[] = [{ size: 0, repeated: 0, last: null }];
  const top = () => stack[stack.length - 1];
  const atom = (size: number, repeated = 0) => {
    const frame = top();
    frame.size += size;
    frame.repeated += repeated;
    frame.last = { size, repeated };
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === 'Q') {
        // \Q...\E: literal text.
        const end = pattern.indexOf('\\E', i + 2);
        const literal = end === -1 ? pattern.slice(i + 2) : pattern.slice(i + 2, end);
        for (let k = 0; k < literal.length; k++) atom(1);
        i = end === -1 ? pattern.length : end + 2;
        continue;
      }
      // \p{Greek}, \x{10FFFF}: one atom with its braces.
      if ((next === 'p' || next === 'P' || next === 'x') && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3);
        i = end === -1 ? pattern.length : end + 1;
      } else {
        i += 2;
      }
      atom(1);
      continue;
    }
    if (c === '[') {
      // A class is one atom; `]` first (after an optional ^) is a member, [:alpha:] nests.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') {
        if (pattern[j] === '\\') j += 2;
        else if (pattern[j] === '[' && pattern[j + 1] === ':') {
          const end = pattern.indexOf(':]', j + 2);
          j = end === -1 ? j + 1 : end + 2;
        } else j++;
      }
      i = j + 1;
      atom(1);
      continue;
    }
    if (c === '(') {
      stack.push({ size: 0, repeated: 0, last: null });
      i++;
      continue;
    }
    if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : { size: 0, repeated: 0 };
      atom(group.size, group.repeated);
      i++;
      continue;
    }
    if (c === '{') {
      const counted = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i, i + 16));
      const frame = top();
      if (counted && frame.last) {
        const bound = counted[2] ? Number(counted[2]) : Number(counted[1]);
        const expanded = bound * frame.last.size;
        frame.size += expanded - frame.last.size;
        frame.repeated += expanded - frame.last.repeated;
        frame.last = { size: expanded, repeated: expanded };
        i += counted[0].length;
        continue;
      }
    }
    if (c === '|') {
      // Both branches are in the program: their sizes add up, as in a sequence.
      top().last = null;
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      i++;
      continue;
    }
    atom(1);
    i++;
  }
  // Unbalanced groups are RE2's to refuse; what was scanned still counts.
  return stack.reduce((sum, frame) => sum + frame.repeated, 0);
}
