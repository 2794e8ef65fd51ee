// Suites over ../shared/data (not present in a user's clone): `npm run test:data`, run by .ci/run.
const dist = process.env.AVA_DIST ?? 'dist';
export default {
  files: [`${dist}/test/data/**/*.test.js`],
  timeout: '10m',
  concurrency: 1,
  workerThreads: false,
};
