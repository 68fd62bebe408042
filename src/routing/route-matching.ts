import { formatMatcher, matches, MatchSubject, valuesOf } from './matchers';
import type { Route, Routing } from './routing-config';

/** A route an incident reached: its receiver, escalation policy and repeat interval (inherited where not set). */
export interface RouteMatch {
  route: Route;
  receiver: string;
}

/** Why the walk went where it did: one entry per route it looked at. */
export interface RouteVisit {
  route: string;
  path: string;
  matched: boolean;
  matchers: { matcher: string; values: readonly string[]; matched: boolean }[];
  /** Set on a route that matched: whether the walk went on to its next siblings. */
  continued?: boolean;
  /** Set on a route that matched: it had children and one of them took the incident. */
  delegated?: boolean;
}

/**
 * Alertmanager's walk: the root takes every incident; at each route the children are tried in
 * order, the first that matches takes the incident (recursively) and, unless it says
 * `continue`, the rest are not tried. A route none of whose children match is itself the match.
 */
export function matchRoutes(routing: Routing, subject: MatchSubject): { matches: RouteMatch[]; visits: RouteVisit[] } {
  const visits: RouteVisit[] = [];
  const walk = (route: Route): RouteMatch[] => {
    const out: RouteMatch[] = [];
    for (const child of route.routes) {
      const detail = child.matchers.map((m) => ({ matcher: formatMatcher(m), values: valuesOf(subject, m.name), matched: matches(m, subject) }));
      const matched = detail.every((d) => d.matched);
      const visit: RouteVisit = { route: child.id, path: child.path, matched, matchers: detail };
      visits.push(visit);
      if (!matched) continue;
      const below = walk(child);
      visit.delegated = child.routes.length > 0 && below.some((m) => m.route !== child);
      visit.continued = child.continue;
      out.push(...below);
      if (!child.continue) break;
    }
    return out.length > 0 ? out : [{ route, receiver: route.receiver }];
  };
  visits.push({ route: routing.root.id, path: routing.root.path, matched: true, matchers: [] });
  return { matches: walk(routing.root), visits };
}

/** Every route of the tree, depth first, for listing. */
export function allRoutes(root: Route): Route[] {
  return [root, ...root.routes.flatMap(allRoutes)];
}
