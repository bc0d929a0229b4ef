import { JsonValue, PathSegment } from "./types";

export class PathSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathSyntaxError";
  }
}

/** Parses "a.b[0].c" into ["a", "b", 0, "c"]; "" is the empty path. */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    if (path.charAt(i) === "[") {
      const close = path.indexOf("]", i);
      if (close < 0) {
        throw new PathSyntaxError(`unclosed "[" at ${i} in "${path}"`);
      }
      const inside = path.slice(i + 1, close);
      if (!/^\d+$/.test(inside)) {
        throw new PathSyntaxError(`index "${inside}" is not a non-negative integer in "${path}"`);
      }
      segments.push(Number(inside));
      i = close + 1;
    } else {
      let end = i;
      while (end < path.length && path.charAt(end) !== "." && path.charAt(end) !== "[") {
        end += 1;
      }
      if (end === i) {
        throw new PathSyntaxError(`empty property name at ${i} in "${path}"`);
      }
      segments.push(path.slice(i, end));
      i = end;
    }
    if (path.charAt(i) === ".") {
      i += 1;
      if (i === path.length) {
        throw new PathSyntaxError(`path "${path}" ends with a dot`);
      }
    }
  }
  return segments;
}

/** The value at `path`, or undefined when any step is missing. */
export function getPath(value: JsonValue, path: string): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const segment of parsePath(path)) {
    if (current === null || current === undefined || typeof current !== "object") {
      return undefined;
    }
    if (typeof segment === "number") {
      if (!Array.isArray(current)) {
        return undefined;
      }
      current = current[segment];
    } else {
      if (Array.isArray(current)) {
        return undefined;
      }
      current = Object.prototype.hasOwnProperty.call(current, segment) ? current[segment] : undefined;
    }
  }
  return current;
}

/** Like getPath, but returns `fallback` when the path is missing. */
export function getOr(value: JsonValue, path: string, fallback: JsonValue): JsonValue {
  const found = getPath(value, path);
  return found === undefined ? fallback : found;
}
