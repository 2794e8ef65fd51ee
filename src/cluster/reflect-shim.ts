/**
 * @peculiar/x509 depends on tsyringe, which refuses to load without the Reflect metadata API
 * (normally the `reflect-metadata` package, which is not a dependency of this project). tsyringe only
 * stores and reads constructor metadata, so a small WeakMap-backed store is enough. It is installed
 * only when no real polyfill is present, and this module is imported before @peculiar/x509 is loaded
 * (certificate.ts loads x509 with a dynamic import after this module ran).
 */

type MetadataStore = WeakMap<object, Map<string | symbol | undefined, Map<unknown, unknown>>>;

interface ReflectMetadataApi {
  getMetadata?: unknown;
}

export function installReflectMetadataShim(): void {
  const reflect = Reflect as unknown as Record<string, unknown> & ReflectMetadataApi;
  if (typeof reflect.getMetadata === 'function') return;
  const store: MetadataStore = new WeakMap();
  const table = (target: object, property: string | symbol | undefined, create: boolean) => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let entries = byProperty.get(property);
    if (!entries && create) {
      entries = new Map();
      byProperty.set(property, entries);
    }
    return entries;
  };
  const getOwnMetadata = (key: unknown, target: object, property?: string | symbol) =>
    table(target, property, false)?.get(key);
  const hasOwnMetadata = (key: unknown, target: object, property?: string | symbol) =>
    table(target, property, false)?.has(key) ?? false;
  const getMetadata = (key: unknown, target: object, property?: string | symbol): unknown => {
    for (let current: object | null = target; current; current = Object.getPrototypeOf(current) as object | null) {
      if (hasOwnMetadata(key, current, property)) return getOwnMetadata(key, current, property);
    }
    return undefined;
  };
  const defineMetadata = (key: unknown, value: unknown, target: object, property?: string | symbol) => {
    table(target, property, true)!.set(key, value);
  };
  Object.assign(reflect, {
    getOwnMetadata,
    hasOwnMetadata,
    getMetadata,
    hasMetadata: (key: unknown, target: object, property?: string | symbol) => getMetadata(key, target, property) !== undefined,
    defineMetadata,
    metadata: (key: unknown, value: unknown) => (target: object, property?: string | symbol) =>
      defineMetadata(key, value, target, property),
  });
}
