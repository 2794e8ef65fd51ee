import { FeatureError } from './errors.js';
import { KNOWN_FEATURES, featureByBit, requireFeature, type FeatureContext, type FeatureDef } from './known.js';
import { hasFeatureBit, pairSupport, parseFeatures, serializeFeatures, type FeatureBytes } from './vector.js';

function offers(features: FeatureBytes, f: FeatureDef): boolean {
  return pairSupport(features, f.bit) !== undefined;
}

export interface MissingDependency {
  readonly feature: string;
  readonly missing: string;
}

/**
 * Every (feature, dependency) pair where the vector sets the feature but not its dependency. Checking each
 * set feature's direct dependencies covers the transitive closure: a missing link anywhere is reported.
 */
export function missingDependencies(features: FeatureBytes): MissingDependency[] {
  const out: MissingDependency[] = [];
  for (const f of KNOWN_FEATURES) {
    if (!offers(features, f)) continue;
    for (const dep of f.dependsOn) if (!offers(features, requireFeature(dep))) out.push({ feature: f.name, missing: dep });
  }
  return out;
}

/** Throws FeatureError('missing-dependency') naming the first missing dependency. */
export function assertDependencies(features: FeatureBytes): void {
  const m = missingDependencies(features)[0];
  if (m) throw new FeatureError('missing-dependency', `${m.feature} is set without its dependency ${m.missing}`, requireFeature(m.feature).bit, m.feature);
}

/** The transitive dependency closure of `names` (the names themselves included), in BOLT 9 order. */
export function withDependencies(names: Iterable<string>): string[] {
  const want = new Set<string>();
  const visit = (name: string) => {
    const f = requireFeature(name);
    if (want.has(f.name)) return;
    want.add(f.name);
    f.dependsOn.forEach(visit);
  };
  for (const n of names) visit(n);
  return KNOWN_FEATURES.filter((f) => want.has(f.name)).map((f) => f.name);
}

export interface ContextViolation {
  readonly bit: number;
  readonly feature?: string;
  readonly reason: 'unknown-bit' | 'not-in-context' | 'wrong-parity' | 'both-bits-set';
}

/**
 * What a sender must not put in a field of `context` (BOLT 9 requirements): bits we do not know, known
 * features not listed for that context, both bits of a pair, and C-/C+ parity rules for channel_announcement.
 * Unknown bits are reported too: "MUST NOT set feature bits it does not support".
 */
export function checkContext(features: FeatureBytes, context: FeatureContext): ContextViolation[] {
  const out: ContextViolation[] = [];
  for (const bit of parseFeatures(features)) {
    const f = featureByBit(bit);
    if (!f) {
      out.push({ bit, reason: 'unknown-bit' });
      continue;
    }
    if (!f.contexts.includes(context)) out.push({ bit, feature: f.name, reason: 'not-in-context' });
    else if (context === 'channel_announcement' && f.channelAnnouncementParity) {
      const odd = (bit & 1) === 1;
      if (odd !== (f.channelAnnouncementParity === 'odd')) out.push({ bit, feature: f.name, reason: 'wrong-parity' });
    }
    if ((bit & 1) === 0 && hasFeatureBit(features, bit + 1)) out.push({ bit, feature: f.name, reason: 'both-bits-set' });
  }
  return out;
}

/** Keeps only the known features allowed in `context` (e.g. our init features -> node_announcement features). */
export function maskForContext(features: FeatureBytes, context: FeatureContext): FeatureBytes {
  const keep: number[] = [];
  for (const bit of parseFeatures(features)) {
    const f = featureByBit(bit);
    if (!f || !f.contexts.includes(context)) continue;
    if (context === 'channel_announcement' && f.channelAnnouncementParity) keep.push(f.channelAnnouncementParity === 'odd' ? f.bit + 1 : f.bit);
    else keep.push(bit);
  }
  return serializeFeatures(new Set(keep));
}

/** Known features that may appear in `context`. */
export function featuresForContext(context: FeatureContext): string[] {
  return KNOWN_FEATURES.filter((f) => f.contexts.includes(context)).map((f) => f.name);
}

export interface NegotiationOptions {
  /** Bits considered known besides the BOLT 9 table (e.g. experimental features we implement). */
  readonly extraKnownBits?: Iterable<number>;
  /**
   * Features the peer must offer (a local policy stricter than BOLT 1, e.g. LDK insists on
   * option_data_loss_protect and option_static_remotekey) => 'missing-required-feature'.
   */
  readonly remoteMustOffer?: Iterable<string>;
}

export type NegotiationResult =
  | {
      readonly ok: true;
      /** Features both sides offered, or we offered as required (BOLT 1 "negotiated"). */
      readonly negotiated: ReadonlySet<string>;
      /** Unknown odd bits the peer set (ignored, per BOLT 1). */
      readonly ignoredBits: readonly number[];
    }
  | { readonly ok: false; readonly error: FeatureError };

/**
 * Checks a peer's combined `init` features against ours (BOLT 1 receiving-node rules):
 * - an even bit we do not know => 'unknown-required-feature' (MUST close the connection), naming the bit;
 * - a known feature the peer requires but we do not offer => 'unsupported-required-feature';
 * - the peer's vector lacks a known dependency => 'missing-dependency' (MUST close);
 * - a feature in `remoteMustOffer` the peer does not offer => 'missing-required-feature'.
 * Unknown odd bits are ignored. A feature we set as required counts as negotiated even if the peer did
 * not set it: BOLT 1 says a peer that did not understand it would have closed the connection.
 */
export function checkRemoteFeatures(local: FeatureBytes, remote: FeatureBytes, options: NegotiationOptions = {}): NegotiationResult {
  const extra = new Set<number>();
  for (const b of options.extraKnownBits ?? []) extra.add(b - (b & 1));
  const fail = (error: FeatureError): NegotiationResult => ({ ok: false, error });
  const ignoredBits: number[] = [];
  for (const bit of parseFeatures(remote)) {
    const f = featureByBit(bit);
    const known = f !== undefined || extra.has(bit - (bit & 1));
    if (!known) {
      if ((bit & 1) === 0) return fail(new FeatureError('unknown-required-feature', `peer requires unknown feature bit ${bit}`, bit));
      ignoredBits.push(bit);
      continue;
    }
    if ((bit & 1) === 0 && pairSupport(local, bit - (bit & 1)) === undefined) {
      const name = f?.name ?? `bit ${bit}`;
      return fail(new FeatureError('unsupported-required-feature', `peer requires ${name} (bit ${bit}), which we do not support`, bit, f?.name));
    }
  }
  const missing = missingDependencies(remote)[0];
  if (missing) {
    const bit = requireFeature(missing.feature).bit;
    return fail(new FeatureError('missing-dependency', `peer sets ${missing.feature} without its dependency ${missing.missing}`, bit, missing.feature));
  }
  for (const name of options.remoteMustOffer ?? []) {
    const f = requireFeature(name);
    if (pairSupport(remote, f.bit) === undefined) {
      return fail(new FeatureError('missing-required-feature', `the peer does not offer ${f.name} (bits ${f.bit}/${f.bit + 1}), which we insist on`, f.bit, f.name));
    }
  }
  const negotiated = new Set<string>();
  for (const f of KNOWN_FEATURES) {
    const ours = pairSupport(local, f.bit);
    const theirs = pairSupport(remote, f.bit);
    if ((ours !== undefined && theirs !== undefined) || ours === 'required') negotiated.add(f.name);
  }
  return { ok: true, negotiated, ignoredBits };
}
