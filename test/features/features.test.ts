import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  FeatureError,
  KNOWN_FEATURES,
  checkContext,
  checkRemoteFeatures,
  clearFeature,
  combineFeatures,
  describeFeatures,
  featureByName,
  featureName,
  featureNames,
  featureSupport,
  featuresForContext,
  featuresFromNames,
  hasFeatureBit,
  maskForContext,
  missingDependencies,
  assertDependencies,
  parseFeatures,
  serializeFeatures,
  setFeature,
  setFeatureBit,
  withDependencies,
  type FeatureContext,
} from '../../src/lightning/features/index.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const table = readFileSync(new URL('../../../test/fixtures/bolt09/bolt09-feature-flags.md', import.meta.url), 'utf8');

interface Row {
  readonly bits: [number, number];
  readonly name: string;
  readonly assumed: boolean;
  readonly context: string;
  readonly deps: string[];
}
const rows: Row[] = table
  .split('\n')
  .filter((l) => /^\| \d+\/\d+/.test(l))
  .map((l) => {
    const cells = l.split('|').map((c) => c.trim());
    const [even, odd] = cells[1]!.split('/').map(Number) as [number, number];
    return {
      bits: [even, odd],
      name: cells[2]!.replace(/`/g, ''),
      assumed: cells[3] === 'ASSUMED',
      context: cells[4]!,
      deps: [...cells[5]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
    };
  });
const LETTER: Record<string, FeatureContext> = { I: 'init', N: 'node_announcement', C: 'channel_announcement', '9': 'invoice', B: 'blinded_path', T: 'channel_type' };

test('every row of the BOLT 9 table is known with its bits, contexts and dependencies', (t) => {
  t.is(rows.length, 23);
  for (const row of rows) {
    const f = featureByName(row.name);
    t.truthy(f, row.name);
    if (!f) continue;
    t.deepEqual([f.bit, f.bit + 1], row.bits, row.name);
    t.is(f.assumed, row.assumed, row.name);
    t.is(featureName(row.bits[0]), row.name);
    t.is(featureName(row.bits[1]), row.name);
    for (const dep of row.deps) t.true(f.dependsOn.includes(dep), `${row.name} depends on ${dep}`);
    // Rows with no context (ASSUMED ones, gossip_queries) keep their historic contexts in our table.
    if (row.context !== '') {
      const contexts = [...row.context].map((c) => LETTER[c]!);
      t.deepEqual([...f.contexts].sort(), [...new Set(contexts)].sort(), `${row.name} contexts ${row.context}`);
    }
  }
  t.is(featureName(100), undefined);
  t.is(featureByName('data_loss_protect')?.name, 'option_data_loss_protect', 'the option_ prefix may be dropped');
  t.is(KNOWN_FEATURES.filter((f) => f.deprecated).length, 1);
});

test('parse and serialize: big-endian, bit 0 is the last byte’s lowest bit', (t) => {
  t.deepEqual(parseFeatures(hex('')), []);
  t.deepEqual(parseFeatures(hex('01')), [0]);
  t.deepEqual(parseFeatures(hex('0100')), [8]);
  t.deepEqual(parseFeatures(hex('8000')), [15]);
  t.deepEqual(parseFeatures(hex('000a')), [1, 3], 'leading zero bytes are fine on input');
  t.is(toHex(serializeFeatures([15, 0])), '8001');
  t.is(toHex(serializeFeatures([])), '');
  t.is(toHex(serializeFeatures([8, 8])), '0100');
  const ldk = hex('08a0a2');
  t.deepEqual(parseFeatures(ldk), [1, 5, 7, 13, 15, 19]);
  t.deepEqual(toHex(serializeFeatures(parseFeatures(ldk))), '08a0a2');
  t.true(hasFeatureBit(ldk, 19));
  t.false(hasFeatureBit(ldk, 100));
  t.is(toHex(combineFeatures(hex('0002'), hex('2000'))), '2002');
  t.is(toHex(setFeatureBit(hex('01'), 9)), '0201');
  t.is(toHex(setFeatureBit(hex('0201'), 9, false)), '01');
  t.throws(() => serializeFeatures([-1]), { instanceOf: FeatureError });
  t.throws(() => serializeFeatures([0xffff * 8]), { instanceOf: FeatureError });
});

test('names, required/optional pairs and featuresFromNames / setFeature', (t) => {
  const v = featuresFromNames(['data_loss_protect', ['var_onion_optin', 'required'], 'payment_secret', 'static_remotekey']);
  t.deepEqual(parseFeatures(v), [1, 8, 13, 15]);
  t.is(featureSupport(v, 'var_onion_optin'), 'required');
  t.is(featureSupport(v, 'option_data_loss_protect'), 'optional');
  t.is(featureSupport(v, 'basic_mpp'), undefined);
  const upgraded = setFeature(v, 'payment_secret', 'required');
  t.deepEqual(parseFeatures(upgraded), [1, 8, 13, 14], 'setting one bit of a pair clears the other');
  t.deepEqual(parseFeatures(clearFeature(upgraded, 'payment_secret')), [1, 8, 13]);
  t.is(featureSupport(hex('03'), 'data_loss_protect'), 'required', 'both bits set counts as required');
  t.deepEqual(featureNames(v), ['option_data_loss_protect', 'var_onion_optin', 'option_static_remotekey', 'payment_secret']);
  t.deepEqual(describeFeatures(serializeFeatures([8, 101])), [
    { bit: 8, name: 'var_onion_optin', required: true },
    { bit: 101, required: false },
  ]);
  const err = t.throws(() => featuresFromNames(['no_such_feature']), { instanceOf: FeatureError });
  t.is(err?.code, 'unknown-feature-name');
});

test('dependencies: payment_secret needs var_onion_optin, basic_mpp needs payment_secret, ...', (t) => {
  t.deepEqual(missingDependencies(featuresFromNames(['payment_secret'])), [{ feature: 'payment_secret', missing: 'var_onion_optin' }]);
  t.deepEqual(missingDependencies(featuresFromNames(['basic_mpp', 'var_onion_optin'])), [{ feature: 'basic_mpp', missing: 'payment_secret' }]);
  t.deepEqual(missingDependencies(featuresFromNames(['zeroconf'])), [{ feature: 'option_zeroconf', missing: 'option_scid_alias' }]);
  t.deepEqual(missingDependencies(featuresFromNames(['simple_close'])), [{ feature: 'option_simple_close', missing: 'option_shutdown_anysegwit' }]);
  t.deepEqual(missingDependencies(featuresFromNames(withDependencies(['basic_mpp', 'zeroconf', 'simple_close']))), []);
  t.deepEqual(withDependencies(['basic_mpp']), ['var_onion_optin', 'payment_secret', 'basic_mpp']);
  const err = t.throws(() => assertDependencies(featuresFromNames(['basic_mpp'])), { instanceOf: FeatureError });
  t.is(err?.code, 'missing-dependency');
  t.is(err?.feature, 'basic_mpp');
});

test('negotiation: unknown required bits fail naming the bit; odd unknowns are ignored', (t) => {
  const local = setFeature(featuresFromNames(withDependencies(['data_loss_protect', 'static_remotekey', 'basic_mpp', 'gossip_queries'])), 'var_onion_optin', 'required');
  const remote = featuresFromNames(withDependencies(['data_loss_protect', 'static_remotekey', 'payment_secret', 'dual_fund']));
  const ok = checkRemoteFeatures(local, remote);
  t.true(ok.ok);
  if (ok.ok) {
    t.true(ok.negotiated.has('payment_secret'));
    t.true(ok.negotiated.has('var_onion_optin'), 'both offer it');
    t.false(ok.negotiated.has('option_dual_fund'), 'only the peer offers it');
    t.false(ok.negotiated.has('basic_mpp'), 'only we offer it (optional)');
  }
  // We require var_onion_optin: negotiated even when the peer does not set it (BOLT 1).
  const bare = checkRemoteFeatures(featuresFromNames([['var_onion_optin', 'required']]), new Uint8Array(0));
  t.true(bare.ok && bare.negotiated.has('var_onion_optin'));
  // Unknown odd bit: ignored.
  const odd = checkRemoteFeatures(local, serializeFeatures([...parseFeatures(remote), 201]));
  t.true(odd.ok);
  if (odd.ok) t.deepEqual(odd.ignoredBits, [201]);
  // Unknown even bit: a typed failure that names it.
  const even = checkRemoteFeatures(local, serializeFeatures([...parseFeatures(remote), 200]));
  t.false(even.ok);
  if (!even.ok) {
    t.is(even.error.code, 'unknown-required-feature');
    t.is(even.error.bit, 200);
    t.regex(even.error.message, /bit 200/);
  }
  t.true(checkRemoteFeatures(local, serializeFeatures([200]), { extraKnownBits: [201] }).ok === false, 'known but unsupported');
  // Known feature required by the peer that we do not offer.
  const dual = checkRemoteFeatures(local, setFeature(remote, 'dual_fund', 'required'));
  t.false(dual.ok);
  if (!dual.ok) {
    t.is(dual.error.code, 'unsupported-required-feature');
    t.is(dual.error.feature, 'option_dual_fund');
    t.is(dual.error.bit, 28);
  }
  // The peer breaks a dependency.
  const dep = checkRemoteFeatures(local, featuresFromNames(['basic_mpp']));
  t.false(dep.ok);
  if (!dep.ok) t.is(dep.error.code, 'missing-dependency');
  // Local policy on top of BOLT 1 (LDK insists on these two).
  const policy = checkRemoteFeatures(local, featuresFromNames(['data_loss_protect']), { remoteMustOffer: ['static_remotekey'] });
  t.false(policy.ok);
  if (!policy.ok) t.is(policy.error.code, 'missing-required-feature');
});

test('contexts: which bits may appear in init, node_announcement, channel_announcement, invoices', (t) => {
  const all = featuresFromNames(withDependencies(['data_loss_protect', 'basic_mpp', 'payment_metadata', 'anchors', 'onion_messages', 'gossip_queries_ex']));
  t.deepEqual(checkContext(all, 'init'), [{ bit: 49, feature: 'option_payment_metadata', reason: 'not-in-context' }]);
  const node = maskForContext(all, 'node_announcement');
  t.false(featureNames(node).includes('option_payment_metadata'));
  t.true(featureNames(node).includes('option_onion_messages'));
  t.deepEqual(checkContext(node, 'node_announcement'), []);
  const invoice = maskForContext(all, 'invoice');
  t.deepEqual(featureNames(invoice), ['var_onion_optin', 'payment_secret', 'basic_mpp', 'option_payment_metadata']);
  t.deepEqual(parseFeatures(maskForContext(all, 'channel_announcement')), [], 'no BOLT 9 feature is presented in channel_announcement today');
  t.deepEqual(featuresForContext('channel_type'), ['option_anchors', 'option_scid_alias', 'option_zeroconf']);
  t.deepEqual(checkContext(serializeFeatures([0, 1, 301]), 'init'), [
    { bit: 0, feature: 'option_data_loss_protect', reason: 'both-bits-set' },
    { bit: 301, reason: 'unknown-bit' },
  ]);
  t.deepEqual(checkContext(featuresFromNames(['anchors']), 'channel_type'), []);
  t.is(checkContext(featuresFromNames(['dual_fund']), 'channel_type')[0]?.reason, 'not-in-context');
});
