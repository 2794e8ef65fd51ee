export * from './control-reply.js';
export * from './control-connection.js';
export * from './auth.js';
export * from './onion-address.js';
export * from './onion-service.js';
export * from './onion-publisher.js';
export * from './socks-dialer.js';
