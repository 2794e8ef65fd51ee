// Chooses the engine behind one built-in balancer process: the native data path when its module is
// built (or asked for), else net.Socket. One place decides, so the single-process balancer and each
// worker choose alike.
import type { BackendSpec } from './backend-set.js';
import { BalancerEngine, BalancerError, type BalancerOptions, type Engine } from './engine.js';
import { NativeBalancerEngine } from './native-engine.js';
import { loadNativeRelay } from './native-relay.js';

export interface ChosenEngine {
  engine: Engine;
  dataPath: 'native' | 'node';
  /** Why 'auto' fell back to node (empty otherwise). */
  fallbackReason: string;
}

/** The data path `options.dataPath` resolves to here; 'native' without the module is an error. */
export function resolveDataPath(choice: BalancerOptions['dataPath']): { dataPath: 'native' | 'node'; fallbackReason: string } {
  if (choice === 'node') return { dataPath: 'node', fallbackReason: '' };
  const { binding, reason } = loadNativeRelay();
  if (binding) return { dataPath: 'native', fallbackReason: '' };
  if (choice === 'native') throw new BalancerError('NO_NATIVE', `balancer.data-path is native but ${reason}`);
  return { dataPath: 'node', fallbackReason: reason };
}

export function createEngine(options: BalancerOptions, backends: readonly BackendSpec[]): ChosenEngine {
  const { dataPath, fallbackReason } = resolveDataPath(options.dataPath);
  const engine = dataPath === 'native' ? new NativeBalancerEngine(loadNativeRelay().binding!, options, backends) : new BalancerEngine(options, backends);
  return { engine, dataPath, fallbackReason };
}
