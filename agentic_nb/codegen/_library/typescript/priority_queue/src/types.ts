/** A queued value with its priority (lower numbers come out first). */
export interface Entry<T> {
  readonly value: T;
  readonly priority: number;
}
