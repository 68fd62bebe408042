import type { Incident } from '../../../incidents/domain/incident';
import { incidentCode } from '../../../incidents/domain/short-code';

/**
 * Texts and calls, rendered in the incident's transaction like every other message. A text is
 * kept to one 160-character GSM-7 segment (what every carrier delivers whole, and what Twilio
 * bills as one), a call's words to what a text-to-speech voice reads well.
 */
export const SMS_SEGMENT = 160;

/** What the stored payload of a text holds: Twilio's form fields, and the incidents it names (a folded text names several). */
export interface SmsPayload {
  To: string;
  From: string;
  Body: string;
  /** The incidents the text tells of: replies are matched against them. */
  incidents: string[];
}

export interface VoicePayload {
  To: string;
  From: string;
  Twiml: string;
  StatusCallback: string;
  /** Seconds the phone rings before the call counts as unanswered. */
  Timeout: string;
  /** Enable: Twilio tells a person from a voicemail (AnsweredBy), and a voicemail counts as unanswered. */
  MachineDetection: string;
  incidents: string[];
}

export interface ReplyWords {
  ack: string;
  resolve: string;
}

/** GSM-7's basic set without its escapes: anything else would switch the text to UCS-2 (70 characters a segment). */
const GSM_SAFE = /[^A-Za-z0-9 \n.,:;!?'"()@#%&*+\-/=<>_$£¥§¿¡ÄÖÑÜäöñüà]/gu;

export function gsmText(text: string): string {
  return text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\s+/g, ' ')
    .replace(GSM_SAFE, '')
    .trim();
}

function fit(head: string, title: string, tail: string, max = SMS_SEGMENT): string {
  const room = max - head.length - tail.length;
  if (room <= 0) return (head + tail).slice(0, max);
  const t = title.length > room ? `${title.slice(0, Math.max(0, room - 3))}...` : title;
  return head + t + tail;
}

/** One incident: "P1 #4821 Database down on db-1. Reply ACK 4821 or RES 4821. https://…/incidents/…" (the link when it fits). */
export function smsBody(incident: Pick<Incident, 'id' | 'severity' | 'title'>, words: ReplyWords, link?: string, lead?: string): string {
  const code = incidentCode(incident.id);
  const head = `${incident.severity} #${code} ${lead ? `${gsmText(lead)}: ` : ''}`;
  const reply = `. Reply ${words.ack} ${code} or ${words.resolve} ${code}.`;
  // A link that leaves under 40 characters for the title is left out: the code is enough to act.
  const withLink = link && link.length + head.length + reply.length + 2 <= SMS_SEGMENT - 40 ? `${reply} ${link}` : reply;
  return fit(head, gsmText(incident.title), withLink);
}

/**
 * Several incidents folded into one text: "3 new incidents: P1 #4821 DB down; P2 #1234 …",
 * the most severe first; `total` counts those not named too.
 */
export function digestBody(incidents: Pick<Incident, 'id' | 'severity' | 'title'>[], total: number, words: ReplyWords): string {
  const tail = ` Reply ${words.ack} <code>`;
  let body = `${total} new incidents:`;
  let named = 0;
  for (const incident of incidents) {
    const head = ` ${incident.severity} #${incidentCode(incident.id)} `;
    const title = gsmText(incident.title);
    const after = total - named - 1;
    const more = after > 0 ? ` +${after} more.` : '';
    if (body.length + head.length + title.length + 1 + more.length + tail.length <= SMS_SEGMENT) {
      body += `${head}${title};`;
      named++;
      continue;
    }
    // The last one, too long whole: its title shortened, if enough of it is left to recognise.
    const room = SMS_SEGMENT - body.length - tail.length;
    if (after === 0 && room - head.length - 1 >= 12) {
      body += fit(head, title, ';', room);
      named++;
    }
    break;
  }
  body = body.replace(/;$/, '.');
  if (total > named) body += ` +${total - named} more.`;
  return body + tail;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Read aloud: "P1" as "priority 1", the code digit by digit, no symbols a voice stumbles on. */
function spoken(incident: Pick<Incident, 'id' | 'severity' | 'title'>): string {
  const title = incident.title
    .replace(/[^\p{L}\p{N} .,:;!?'-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
  return `Priority ${incident.severity.slice(1)} incident, code ${incidentCode(incident.id).split('').join(' ')}: ${title}.`;
}

/**
 * The call: the incident read twice (the first may be missed while the phone reaches an ear),
 * then one key: 1 acknowledges, 2 escalates. Twilio posts the key to `gatherUrl`.
 */
export function voiceTwiml(incident: Pick<Incident, 'id' | 'severity' | 'title'>, gatherUrl: string, lead?: string): string {
  const say = `${lead ? `${lead.replace(/[^\p{L}\p{N} .,:;!?'-]/gu, ' ')}. ` : ''}${spoken(incident)} Press 1 to acknowledge. Press 2 to escalate.`;
  return (
    '<?xml version="1.0" encoding="UTF-8"?><Response>' +
    `<Gather input="dtmf" numDigits="1" timeout="8" action="${xml(gatherUrl)}" method="POST">` +
    `<Say>${xml(say)}</Say><Pause length="1"/><Say>${xml(say)}</Say></Gather>` +
    '<Say>No key was pressed. The incident is not acknowledged. Goodbye.</Say></Response>'
  );
}

/** What Twilio reads back after a key: a short TwiML answer. */
export function spokenReply(text: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say>${xml(text)}</Say></Response>`;
}

/** A text sent back in answer to a reply. */
export function messageReply(text: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${xml(gsmText(text).slice(0, SMS_SEGMENT))}</Message></Response>`;
}

/** No answer at all (Twilio sends nothing back). */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';
