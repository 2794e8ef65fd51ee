import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RecentLog, teeRecentLog } from '../../src/back/recent-log.js';

function captureLogger(level = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level, redact: { paths: ['password', '*.password'], censor: '[redacted]' } }, destination);
  return { logger, lines };
}

test('keeps warnings and worse, with module and identifying fields; the log itself is unchanged', (t) => {
  const { logger, lines } = captureLogger();
  const { recent } = teeRecentLog(logger, new RecentLog({ capacity: 10 }));
  const child = logger.child({ module: 'back', front: 'front-1' });
  child.info('fine');
  child.warn({ peer: '02ab', reason: 'slow' }, 'peer too slow');
  child.error({ err: new Error('boom') }, 'handler failed');
  child.fatal('the end');
  t.is(lines.length, 4, 'every line still reaches the real destination');
  const entries = recent.entries();
  t.deepEqual(entries.map((e) => e.level), ['warn', 'error', 'fatal']);
  t.is(entries[0]!.module, 'back');
  t.deepEqual(entries[0]!.fields, { front: 'front-1', peer: '02ab', reason: 'slow' });
  t.is(entries[1]!.fields['err'], 'boom');
  t.is(recent.total, 3);
});

test('a fixed-size ring: the oldest go first; long messages are cut', (t) => {
  const recent = new RecentLog({ capacity: 3 });
  const { logger } = captureLogger();
  teeRecentLog(logger, recent);
  for (let i = 1; i <= 5; i++) logger.warn(`warning ${i}`);
  t.deepEqual(recent.entries().map((e) => e.msg), ['warning 3', 'warning 4', 'warning 5']);
  t.is(recent.total, 5);
  logger.error('x'.repeat(10_000));
  t.true(recent.entries().at(-1)!.msg.length <= 500);
  t.throws(() => new RecentLog({ capacity: 0 }), { instanceOf: RangeError });
});

test('secrets stay redacted; attaching twice keeps one ring; detach restores the destination', (t) => {
  const { logger, lines } = captureLogger();
  const first = teeRecentLog(logger);
  const second = teeRecentLog(logger.child({ module: 'x' }));
  t.is(second.recent, first.recent, 'children share the destination and the ring');
  logger.warn({ password: 'hunter2', reason: 'r' }, 'login failed');
  t.notRegex(JSON.stringify(first.recent.entries()), /hunter2/);
  first.detach();
  logger.warn('after detach');
  t.is(first.recent.total, 1);
  t.is(lines.length, 2);
  // Lines that are not pino JSON are ignored, not thrown on.
  const plain = new RecentLog();
  plain.addLine('not json');
  plain.addLine('{"level":50,broken');
  t.is(plain.total, 0);
});
