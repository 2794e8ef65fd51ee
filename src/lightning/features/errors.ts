export type FeatureErrorCode =
  | 'unknown-required-feature' // the peer requires an even bit nobody has assigned (BOLT 1: close)
  | 'unsupported-required-feature' // the peer requires a known feature we do not offer
  | 'missing-required-feature' // the peer does not offer a feature our policy insists on
  | 'missing-dependency' // a vector sets a feature without its (transitive) dependency (BOLT 1/9: close)
  | 'unknown-feature-name'
  | 'bad-bit';

export class FeatureError extends Error {
  override readonly name = 'FeatureError';
  constructor(
    readonly code: FeatureErrorCode,
    message: string,
    /** The bit concerned, when there is one (the even or odd bit as it was set). */
    readonly bit?: number,
    /** The feature's name when known. */
    readonly feature?: string,
  ) {
    super(message);
  }
}
