import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode, FieldIssue, ValidationFailed } from '../common/domain-error';
import { newId } from '../common/ids';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { Tx } from '../database/transactor';
import { formatDuration, parseDuration } from '../routing/duration';
import { RoutingService } from '../routing/routing.service';
import type { CalendarLinkView, CreateTeamDto, CreateUserDto, NotificationRuleDto, TeamView, UpdateTeamDto, UpdateUserDto, UserView } from './dto/people.dto';
import { isUniqueViolation, PeopleRepository } from './people.repository';
import { addressOf, contactMethodsOf, maskedTopic, NotificationRule, Team, User } from './person';
import { isZone } from './schedules/layer-shifts';

/** The longest a notification rule may wait. */
const MAX_RULE_AFTER_MS = 24 * 3600 * 1000;

export function userView(user: User): UserView {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    slack_user_id: user.slack_user_id,
    phone: user.phone,
    time_zone: user.time_zone,
    ntfy_topic: user.ntfy_topic === null ? null : maskedTopic(user.ntfy_topic),
    contact_methods: contactMethodsOf(user).map((type) => ({ type, address: type === 'push' ? maskedTopic(addressOf(user, type)) : addressOf(user, type) })),
    notification_rules: user.notification_rules.map((r) => ({ after: formatDuration(r.after_ms), methods: r.methods })),
    active: user.active,
    deactivated_at: user.deactivated_at,
    created_at: user.created_at,
    updated_at: user.updated_at,
  };
}

export function teamView(team: Team): TeamView {
  return { ...team };
}

export function calendarTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Users and teams: who can be reached, how, and in which groups. */
@Injectable()
export class PeopleService {
  constructor(
    private readonly people: PeopleRepository,
    private readonly routing: RoutingService,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async createUser(dto: CreateUserDto): Promise<User> {
    const rules = this.checkUser(dto, true);
    const now = this.clock.now().toISOString();
    const email = dto.email.toLowerCase();
    if (await this.people.findUserByEmail(email)) throw this.taken('email', `a user with the email ${email} exists`);
    return this.unique('email', `a user with the email ${email} exists`, () =>
      this.people.insertUser({
        id: newId(),
        name: dto.name.trim(),
        email,
        slack_user_id: dto.slack_user_id ?? null,
        phone: dto.phone ?? null,
        ntfy_topic: dto.ntfy_topic ?? null,
        time_zone: dto.time_zone,
        notification_rules: JSON.stringify(rules ?? []),
        calendar_token_hash: null,
        deactivated_at: null,
        created_at: now,
        updated_at: now,
      }),
    );
  }

  async updateUser(id: string, dto: UpdateUserDto): Promise<User> {
    await this.getUser(id);
    const rules = this.checkUser(dto, false);
    const email = dto.email?.toLowerCase();
    if (email) {
      const other = await this.people.findUserByEmail(email);
      if (other && other.id !== id) throw this.taken('email', `a user with the email ${email} exists`);
    }
    const updated = await this.unique('email', `a user with the email ${email} exists`, () =>
      this.people.updateUser(id, {
        ...(dto.name !== undefined ? { name: dto.name.trim() } : {}),
        ...(email !== undefined ? { email } : {}),
        ...(dto.slack_user_id !== undefined ? { slack_user_id: dto.slack_user_id } : {}),
        ...(dto.phone !== undefined ? { phone: dto.phone } : {}),
        ...(dto.ntfy_topic !== undefined ? { ntfy_topic: dto.ntfy_topic } : {}),
        ...(dto.time_zone !== undefined ? { time_zone: dto.time_zone } : {}),
        ...(rules !== undefined ? { notification_rules: JSON.stringify(rules) } : {}),
        updated_at: this.clock.now().toISOString(),
      }),
    );
    if (!updated) throw this.userNotFound(id);
    return updated;
  }

  /** A deactivated user is never notified; their time in schedules shows as a gap. */
  async setActive(id: string, active: boolean): Promise<User> {
    const user = await this.getUser(id);
    if (user.active === active) return user;
    const now = this.clock.now().toISOString();
    const updated = await this.people.updateUser(id, {
      deactivated_at: active ? null : now,
      updated_at: now,
      ...(active ? {} : { calendar_token_hash: null }),
    });
    if (!updated) throw this.userNotFound(id);
    return updated;
  }

  async getUser(id: string): Promise<User> {
    const user = await this.people.findUser(id);
    if (!user) throw this.userNotFound(id);
    return user;
  }

  findUser(id: string): Promise<User | null> {
    return this.people.findUser(id);
  }

  /** Who clicked a Slack button, when the service knows them by their Slack id. */
  activeUserBySlackId(slackUserId: string): Promise<User | null> {
    return this.people.activeUserBySlackId(slackUserId);
  }

  /** Whose phone a text or call came from or went to. */
  activeUsersByPhone(phone: string): Promise<User[]> {
    return this.people.activeUsersByPhone(phone);
  }

  usersByIds(ids: readonly string[], tx?: Tx): Promise<Map<string, User>> {
    return this.people.usersByIds(ids, tx?.db);
  }

  /** In a transaction in progress (escalation): a user by id. */
  userWithin(tx: Tx, id: string): Promise<User | null> {
    return this.people.findUser(id, tx.db);
  }

  /** In a transaction in progress: a user as routing names them (user:<email>, or their id). */
  userByRefWithin(tx: Tx, ref: string): Promise<User | null> {
    return /^[0-9a-f-]{36}$/i.test(ref) ? this.people.findUser(ref.toLowerCase(), tx.db) : this.people.findUserByEmail(ref.toLowerCase(), tx.db);
  }

  /** In a transaction in progress: a team by name, with its members. */
  teamByNameWithin(tx: Tx, name: string): Promise<Team | null> {
    return this.people.findTeamByName(name, tx.db);
  }

  listUsers(includeInactive = false): Promise<User[]> {
    return this.people.listUsers(includeInactive);
  }

  /** A new calendar token for the user (the old one stops working); the URLs are shown once. */
  async newCalendarLink(id: string): Promise<CalendarLinkView> {
    const user = await this.getUser(id);
    if (!user.active) throw new ValidationFailed([{ field: 'id', message: 'the user is deactivated' }]);
    const token = randomBytes(32).toString('base64url');
    await this.people.updateUser(id, { calendar_token_hash: calendarTokenHash(token), updated_at: this.clock.now().toISOString() });
    const base = `${this.config.server.public_url.replace(/\/+$/, '')}/v1/calendars/${token}`;
    return { url: `${base}/shifts.ics`, schedule_url_template: `${base}/schedules/{schedule_id}.ics` };
  }

  /** The active user a calendar token belongs to. */
  async userOfCalendarToken(token: string): Promise<User | null> {
    const user = await this.people.findUserByCalendarToken(calendarTokenHash(token));
    return user?.active ? user : null;
  }

  async createTeam(dto: CreateTeamDto): Promise<Team> {
    await this.checkTeam(dto);
    if (await this.people.findTeamByName(dto.name)) throw this.taken('name', `a team named ${dto.name} exists`);
    const now = this.clock.now().toISOString();
    const id = newId();
    await this.unique('name', `a team named ${dto.name} exists`, () =>
      this.people.insertTeam(
        {
          id,
          name: dto.name,
          escalation_policy: dto.escalation_policy ?? null,
          notify: dto.notify ?? (dto.escalation_policy ? 'policy' : 'members'),
          created_at: now,
          updated_at: now,
        },
        dto.member_ids ?? [],
      ),
    );
    return this.getTeam(id);
  }

  async updateTeam(id: string, dto: UpdateTeamDto): Promise<Team> {
    await this.getTeam(id);
    await this.checkTeam(dto);
    if (dto.name) {
      const other = await this.people.findTeamByName(dto.name);
      if (other && other.id !== id) throw this.taken('name', `a team named ${dto.name} exists`);
    }
    const changes = {
      ...(dto.name !== undefined ? { name: dto.name } : {}),
      ...(dto.escalation_policy !== undefined ? { escalation_policy: dto.escalation_policy } : {}),
      ...(dto.notify !== undefined ? { notify: dto.notify } : {}),
      updated_at: this.clock.now().toISOString(),
    };
    const found = await this.unique('name', `a team named ${dto.name} exists`, () => this.people.updateTeam(id, changes, dto.member_ids));
    if (!found) throw this.teamNotFound(id);
    return this.getTeam(id);
  }

  async deleteTeam(id: string): Promise<void> {
    if (!(await this.people.deleteTeam(id))) throw this.teamNotFound(id);
  }

  async getTeam(id: string): Promise<Team> {
    const team = await this.people.findTeam(id);
    if (!team) throw this.teamNotFound(id);
    return team;
  }

  findTeamByName(name: string): Promise<Team | null> {
    return this.people.findTeamByName(name);
  }

  listTeams(): Promise<Team[]> {
    return this.people.listTeams();
  }

  /** Checks what the DTO cannot: the time zone, the rules' waits. Answers the rules to store, if given. */
  private checkUser(dto: UpdateUserDto, creating: boolean): NotificationRule[] | undefined {
    const issues: FieldIssue[] = [];
    for (const field of ['name', 'email', 'time_zone'] as const) {
      if ((dto as Record<string, unknown>)[field] === null || (creating && dto[field] === undefined)) issues.push({ field, message: `${field} is required` });
    }
    if (typeof dto.time_zone === 'string' && !isZone(dto.time_zone))
      issues.push({ field: 'time_zone', message: `"${dto.time_zone}" is not an IANA time zone` });
    let rules: NotificationRule[] | undefined;
    if (dto.notification_rules) {
      rules = [];
      dto.notification_rules.forEach((rule: NotificationRuleDto, i) => {
        const after = parseDuration(rule.after);
        if (after === null || after > MAX_RULE_AFTER_MS)
          issues.push({ field: `notification_rules[${i}].after`, message: `"${rule.after}" is not a duration between 0s and 24h such as 5m` });
        else if (rule.methods.length === 0) issues.push({ field: `notification_rules[${i}].methods`, message: 'name at least one method' });
        else rules?.push({ after_ms: after, methods: rule.methods });
      });
      rules.sort((a, b) => a.after_ms - b.after_ms);
    }
    if (issues.length > 0) throw new ValidationFailed(issues);
    return rules;
  }

  private async checkTeam(dto: UpdateTeamDto): Promise<void> {
    const issues: FieldIssue[] = [];
    for (const field of ['name', 'notify'] as const)
      if ((dto as Record<string, unknown>)[field] === null) issues.push({ field, message: `${field} is required` });
    if (dto.escalation_policy && !this.routing.policy(dto.escalation_policy))
      issues.push({ field: 'escalation_policy', message: `no escalation policy named "${dto.escalation_policy}" in the routing configuration` });
    if (dto.notify === 'policy' && dto.escalation_policy === null) issues.push({ field: 'notify', message: 'notify = policy needs an escalation_policy' });
    if (dto.member_ids && dto.member_ids.length > 0) {
      const found = await this.people.usersByIds(dto.member_ids);
      dto.member_ids.forEach((id, i) => {
        if (!found.has(id)) issues.push({ field: `member_ids[${i}]`, message: `no user ${id}` });
      });
    }
    if (issues.length > 0) throw new ValidationFailed(issues);
  }

  private async unique<T>(field: string, message: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (isUniqueViolation(err)) throw this.taken(field, message);
      throw err;
    }
  }

  private taken(field: string, message: string): DomainError {
    return new DomainError(ErrorCode.NAME_TAKEN, message, { field });
  }

  private userNotFound(id: string): DomainError {
    return new DomainError(ErrorCode.USER_NOT_FOUND, `user ${id} not found`);
  }

  private teamNotFound(id: string): DomainError {
    return new DomainError(ErrorCode.TEAM_NOT_FOUND, `team ${id} not found`);
  }
}
