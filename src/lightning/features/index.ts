export * from './errors.js';
export * from './known.js';
export * from './vector.js';
export * from './rules.js';
