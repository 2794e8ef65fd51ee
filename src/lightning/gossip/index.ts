export * from './errors.js';
export * from './signatures.js';
export * from './node-announcement.js';
export * from './synthetic.js';
