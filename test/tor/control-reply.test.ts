import test from 'ava';
import {
  ControlProtocolError,
  ControlReplyParser,
  parseKeywordArguments,
  quoteString,
  replyKeyValues,
  replyText,
} from '../../src/tor/control-reply.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('single end line and mid lines form one reply', (t) => {
  const parser = new ControlReplyParser();
  const replies = parser.push(enc('250-ServiceID=abc\r\n250-PrivateKey=ED25519-V3:xyz\r\n250 OK\r\n'));
  t.is(replies.length, 1);
  t.is(replies[0]!.status, 250);
  t.is(replies[0]!.lines.length, 3);
  t.is(replyText(replies[0]!), 'OK');
  t.deepEqual(replyKeyValues(replies[0]!).get('PrivateKey'), ['ED25519-V3:xyz']);
});

test('data lines end with a lone dot and are dot-unstuffed', (t) => {
  const parser = new ControlReplyParser();
  const [reply] = parser.push(enc('250+config-text=\r\nA 1\r\n..hidden\r\n...\r\n\r\n.\r\n250 OK\r\n'));
  t.is(reply!.lines[0]!.separator, '+');
  t.is(reply!.lines[0]!.data, 'A 1\n.hidden\n..\n');
  t.is(replyKeyValues(reply!).get('config-text')?.[0], 'A 1\n.hidden\n..\n');
});

test('any chunking gives the same replies, events stay separate', (t) => {
  const wire = '650 SIGNAL NEWNYM\r\n250 OK\r\n650-CIRC 1 LAUNCHED\r\n650+DATA\r\nx\r\n.\r\n650 end\r\n552 Unknown Onion Service id\r\n';
  const whole = new ControlReplyParser().push(enc(wire));
  t.deepEqual(whole.map((r) => r.status), [650, 250, 650, 552]);
  for (const size of [1, 2, 3, 7]) {
    const parser = new ControlReplyParser();
    const got = [];
    for (let i = 0; i < wire.length; i += size) got.push(...parser.push(enc(wire.slice(i, i + size))));
    t.deepEqual(got, whole, `chunk size ${size}`);
  }
});

test('bare LF line endings are accepted', (t) => {
  const [reply] = new ControlReplyParser().push(enc('250-A=1\n250 OK\n'));
  t.is(reply!.lines.length, 2);
});

test('grammar violations and size bounds are typed errors', (t) => {
  t.is(t.throws(() => new ControlReplyParser().push(enc('hello\r\n')), { instanceOf: ControlProtocolError })!.code, 'malformed-line');
  t.is(t.throws(() => new ControlReplyParser().push(enc('250-A\r\n251 B\r\n')), { instanceOf: ControlProtocolError })!.code, 'mixed-status');
  const small = new ControlReplyParser({ maxLineBytes: 16, maxReplyBytes: 64 });
  t.is(t.throws(() => small.push(enc('x'.repeat(40))), { instanceOf: ControlProtocolError })!.code, 'line-too-long');
  const bounded = new ControlReplyParser({ maxLineBytes: 16, maxReplyBytes: 64 });
  t.is(t.throws(() => bounded.push(enc('250-0123456789\r\n'.repeat(10))), { instanceOf: ControlProtocolError })!.code, 'reply-too-large');
});

test('keyword arguments: quoted values with escapes, positional words', (t) => {
  const { positional, keywords } = parseKeywordArguments('AUTHCHALLENGE SERVERHASH=AB COOKIEFILE="/a b/\\"c\\\\" X=');
  t.deepEqual(positional, ['AUTHCHALLENGE']);
  t.is(keywords.get('SERVERHASH'), 'AB');
  t.is(keywords.get('COOKIEFILE'), '/a b/"c\\');
  t.is(keywords.get('X'), '');
  t.throws(() => parseKeywordArguments('A="open'), { instanceOf: ControlProtocolError });
  t.is(quoteString('a"b\\c'), '"a\\"b\\\\c"');
});
