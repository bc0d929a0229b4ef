/** A key-value cache with a bounded size. */
export interface Cache<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): boolean;
  readonly size: number;
  keys(): K[];
}

/** Called with each entry the cache evicts to make room. */
export type EvictionListener<K, V> = (key: K, value: V) => void;
