/**
 * The LDK engine's admin commands, served by the back under /api/<name>:
 *   GET  channels                                     id, peer, state, capacity, balances
 *   POST open    {nodeId, sats, announce?, pushMsat?}  opens a channel to a connected peer
 *   POST close   {channelId, force?}                  cooperative (or force) close
 *   POST invoice {msat?, description?, expirySecs?}   a BOLT 11 invoice
 *   POST pay     {invoice, amountMsat?}               pays it; answers when it succeeded or failed
 * The cli sends positional arguments as `{args: [...]}`: each handler accepts both forms.
 */
import { AdminError } from '../admin-api.js';
import type { ChannelAdminCommands } from '../channel-engine.js';
import { ChannelEngineError } from './errors.js';
import type { ChannelInfo, PaymentResult } from './ldk-engine.js';

export interface LdkAdminTarget {
  listChannels(): ChannelInfo[];
  openChannel(nodeId: Uint8Array, sats: bigint, options?: { pushMsat?: bigint; announce?: boolean }): string;
  closeChannel(channelId: string, options?: { force?: boolean }): void;
  createInvoice(msat: bigint | undefined, description?: string, expirySecs?: number): string;
  pay(invoice: string, amountMsat?: bigint): Promise<PaymentResult>;
}

/** Amounts as JSON numbers while exact (every real channel), as strings beyond. */
function amount(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function field(body: Record<string, unknown>, name: string, position: number): unknown {
  if (body[name] !== undefined) return body[name];
  const args = body['args'];
  return Array.isArray(args) ? args[position] : undefined;
}

function bigIntField(body: Record<string, unknown>, name: string, position: number, required: boolean): bigint | undefined {
  const value = field(body, name, position);
  if (value === undefined || value === '') {
    if (required) throw new AdminError(400, 'bad-request', `${name} is required`);
    return undefined;
  }
  if ((typeof value !== 'number' || !Number.isSafeInteger(value)) && (typeof value !== 'string' || !/^\d{1,19}$/.test(value))) {
    throw new AdminError(400, 'bad-request', `${name} must be a non-negative integer`);
  }
  const result = BigInt(value);
  if (result < 0n) throw new AdminError(400, 'bad-request', `${name} must be a non-negative integer`);
  return result;
}

function stringField(body: Record<string, unknown>, name: string, position: number, pattern?: RegExp): string {
  const value = field(body, name, position);
  if (typeof value !== 'string' || value === '' || (pattern && !pattern.test(value))) {
    throw new AdminError(400, 'bad-request', `${name} is missing or malformed`);
  }
  return value;
}

function booleanField(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new AdminError(400, 'bad-request', `${name} must be true or false`);
}

/** Engine errors become statuses an operator can read. */
function translate(error: unknown): never {
  if (error instanceof ChannelEngineError) {
    const status = error.code === 'bad-input' ? 400 : error.code === 'unknown-channel' ? 404 : error.code === 'closed' ? 503 : 409;
    throw new AdminError(status, error.code, error.message);
  }
  throw error;
}

export function channelView(c: ChannelInfo): Record<string, unknown> {
  return {
    channelId: c.channelId,
    peer: c.peer,
    state: c.state,
    capacitySats: amount(c.capacitySats),
    outboundMsat: amount(c.outboundMsat),
    inboundMsat: amount(c.inboundMsat),
    shortChannelId: c.shortChannelId ?? null,
    fundingTxo: c.fundingTxo ?? null,
    confirmations: c.confirmations ?? null,
    isOutbound: c.isOutbound,
    isPublic: c.isPublic,
  };
}

export function ldkAdminCommands(engine: LdkAdminTarget): ChannelAdminCommands {
  return {
    get: {
      channels: () => engine.listChannels().map(channelView),
    },
    post: {
      open: (body) => {
        const nodeId = stringField(body, 'nodeId', 0, /^0[23][0-9a-fA-F]{64}$/);
        const sats = bigIntField(body, 'sats', 1, true)!;
        const pushMsat = bigIntField(body, 'pushMsat', 2, false);
        const announce = booleanField(body, 'announce');
        try {
          const temporaryChannelId = engine.openChannel(Uint8Array.from(Buffer.from(nodeId, 'hex')), sats, {
            ...(pushMsat === undefined ? {} : { pushMsat }),
            ...(announce === undefined ? {} : { announce }),
          });
          return { temporaryChannelId, peer: nodeId.toLowerCase(), capacitySats: amount(sats) };
        } catch (error) {
          return translate(error);
        }
      },
      close: (body) => {
        const channelId = stringField(body, 'channelId', 0, /^[0-9a-fA-F]{64}$/).toLowerCase();
        const force = booleanField(body, 'force') ?? false;
        try {
          engine.closeChannel(channelId, { force });
          return { channelId, closing: force ? 'force' : 'cooperative' };
        } catch (error) {
          return translate(error);
        }
      },
      invoice: (body) => {
        const msat = bigIntField(body, 'msat', 0, false);
        const description = field(body, 'description', 1);
        const expiry = bigIntField(body, 'expirySecs', 2, false);
        if (description !== undefined && typeof description !== 'string') throw new AdminError(400, 'bad-request', 'description must be a string');
        try {
          return { invoice: engine.createInvoice(msat, description ?? '', expiry === undefined ? undefined : Number(expiry)) };
        } catch (error) {
          return translate(error);
        }
      },
      pay: async (body) => {
        const invoice = stringField(body, 'invoice', 0);
        const amountMsat = bigIntField(body, 'amountMsat', 1, false);
        try {
          const result = await engine.pay(invoice, amountMsat);
          return { ...result, feeMsat: result.feeMsat === undefined ? null : amount(result.feeMsat) };
        } catch (error) {
          return translate(error);
        }
      },
    },
  };
}
