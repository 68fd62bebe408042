import { errorCodes, FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { DomainError, ErrorCode, ValidationFailed } from './domain-error';
import { jsonShapeIssue, MAX_JSON_DEPTH, MAX_OBJECT_MEMBERS, mayHaveShapeIssue, scanJson } from './json-shape';

/**
 * The only request body format: JSON (application/json or application/*+json). Other media
 * types get 415; a body that does not parse gets MALFORMED_JSON with the parser's reason.
 * secure-json-parse refuses __proto__ keys (400 naming it) and drops a constructor key that
 * holds a prototype, so a body cannot poison prototypes; `constructor` holding a string (a
 * legal label name) stays.
 */
export function acceptOnlyJson(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = body.toString();
    if (text.trim() === '') {
      done(
        new DomainError(ErrorCode.MALFORMED_JSON, 'request body is empty but content-type is JSON', { fields: [{ field: 'body', message: 'empty body' }] }),
        undefined,
      );
      return;
    }
    // PagerDuty signs its webhooks over the exact body: that route takes the text, and parses it
    // once the signature checks. The cheap prefix test first keeps other routes from paying for
    // routeOptions (an object built per call).
    if (req.url.startsWith(RAW_JSON_ROUTE) && req.routeOptions?.url === RAW_JSON_ROUTE) {
      done(null, { raw: text });
      return;
    }
    // Far too deep: refused from the raw text, before parsing (5 MiB of "[" held the loop for
    // seconds). A body a little too deep is parsed and refused naming the path (jsonShapeIssue).
    const shape = scanJson(text, RAW_DEPTH_CUTOFF);
    if (shape.depth > RAW_DEPTH_CUTOFF) {
      done(new ValidationFailed([{ field: 'body', message: `nested more than ${MAX_JSON_DEPTH} levels deep` }]), undefined);
      return;
    }
    if (shape.tooWide) {
      done(new ValidationFailed([{ field: 'body', message: `an object has more than ${MAX_OBJECT_MEMBERS} members` }]), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'remove' });
    } catch (err) {
      const reason = (err as Error).message;
      if (/prototype property/.test(reason)) {
        // Dropping it silently would lose a label; keeping it would set the object's prototype.
        done(
          new ValidationFailed([
            { field: '__proto__', message: 'a key named __proto__ is not accepted anywhere in a body (it would set an object’s prototype)' },
          ]),
        );
        return;
      }
      done(new DomainError(ErrorCode.MALFORMED_JSON, `request body is not valid JSON: ${reason}`, { fields: [{ field: 'body', message: reason }] }), undefined);
      return;
    }
    const issue = mayHaveShapeIssue(text, shape.depth) ? jsonShapeIssue(parsed) : null;
    done(issue ? new ValidationFailed([issue]) : null, parsed);
  };
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  fastify.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'string' }, parseJson);
  // Slack and Twilio post forms; only their routes (and the acknowledgement page) take one, kept raw for the signature.
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => {
    const route = req.routeOptions?.url ?? '';
    if (route !== FORM_ROUTE && !ACK_FORM_ROUTES.has(route) && !TWILIO_FORM_ROUTES.has(route)) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(req.headers['content-type']), undefined);
      return;
    }
    done(null, { raw: body.toString() });
  });
}

/** Nesting refused before parsing: four times what any request may have. */
const RAW_DEPTH_CUTOFF = MAX_JSON_DEPTH * 4;

/** The one JSON route that takes its body as text (PagerDuty's signed v3 webhooks). */
const RAW_JSON_ROUTE = '/v1/integrations/pagerduty/webhooks';

/** The one route that takes a form body (Slack's interactions). */
const FORM_ROUTE = '/v1/integrations/slack/interactions';

/** Twilio posts its callbacks as forms, signed over the form fields. */
const TWILIO_FORM_ROUTES = new Set(['/v1/integrations/twilio/sms', '/v1/integrations/twilio/voice/gather', '/v1/integrations/twilio/voice/status']);

/** The acknowledgement page's button posts an empty form to its own URL (the token is in the path; the body is not read). */
const ACK_FORM_ROUTES = new Set(['/v1/ack/:token', '/v1/ack/*']);
