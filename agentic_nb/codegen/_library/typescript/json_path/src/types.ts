export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A parsed path: property names and array indexes. */
export type PathSegment = string | number;
