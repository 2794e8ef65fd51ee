// Tests are TypeScript compiled by `tsc` (npm test builds first), so ava runs the emitted JavaScript.
// Suites over the large data sets in ../shared/data live in test/data and run from ava.data.config.js.
// AVA_DIST lets a developer build into another folder (tsc --outDir) without touching dist/.
const dist = process.env.AVA_DIST ?? 'dist';
export default {
  files: [`${dist}/test/**/*.test.js`, `!${dist}/test/data/**`],
  timeout: '3m',
  concurrency: 2,
  workerThreads: false,
};
