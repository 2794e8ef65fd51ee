export * from './types.js';
export * from './routing-table.js';
export * from './funding.js';
export * from './bitcoind-funding.js';
export * from './store.js';
export * from './own-announcement.js';
