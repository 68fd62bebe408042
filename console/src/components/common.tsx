import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Session, Severity, State } from '../types';

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  return useContext(SessionContext)!;
}

const SEVERITY_TEXT: Record<Severity, string> = { P0: 'P0 critical', P1: 'P1 high', P2: 'P2 medium', P3: 'P3 low', P4: 'P4 info' };

/** Severity by colour and by text: the colour alone never carries the meaning. */
export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span class={`badge sev-${severity}`}>{SEVERITY_TEXT[severity] ?? severity}</span>;
}

export function StateBadge({ state }: { state: State }) {
  return <span class={`badge state state-${state}`}>{state}</span>;
}

export function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}

/** "12 min ago": the age an on-call engineer reads first. */
export function ageOf(at: Date, now: number = Date.now()): string {
  const seconds = Math.round((now - at.getTime()) / 1000);
  if (seconds < 0) return 'in the future';
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** One format for every absolute time: local date and time with its zone ("Dec 5, 2026, 14:02:07 UTC"). */
export function absoluteTime(at: Date): string {
  return at.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
}

/** One timer for every shown age (a timeline shows hundreds), so that "3 min ago" moves on. */
const ageWatchers = new Set<() => void>();
let ageTimer: ReturnType<typeof setInterval> | undefined;
function useAgeTick(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const watcher = () => setTick((n) => n + 1);
    ageWatchers.add(watcher);
    ageTimer ??= setInterval(() => ageWatchers.forEach((w) => w()), 30_000);
    return () => {
      ageWatchers.delete(watcher);
      if (ageWatchers.size === 0 && ageTimer !== undefined) {
        clearInterval(ageTimer);
        ageTimer = undefined;
      }
    };
  }, []);
}

/** A time shown as its age; the absolute time and zone on hover, or on a tap (phones have no hover). */
export function Time({ at }: { at: string | null | undefined }) {
  const [absolute, setAbsolute] = useState(false);
  useAgeTick();
  if (!at) return <span>—</span>;
  const date = new Date(at);
  const full = absoluteTime(date);
  return (
    <time dateTime={at} title={full} onClick={() => setAbsolute((shown) => !shown)}>
      {absolute ? full : ageOf(date)}
    </time>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id ? `${id}-h` : undefined}>
      <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
      {children}
    </section>
  );
}
