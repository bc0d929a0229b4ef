import { PathSyntaxError, getOr, getPath, parsePath } from "../src/json_path";
import { JsonValue } from "../src/types";

const data: JsonValue = {
  items: [{ id: 1, tags: ["a"] }, { id: 2, tags: [] }],
  meta: { count: 0, ok: false, empty: "" },
  "weird key": 5,
};

describe("acceptance: getPath", () => {
  it("walks objects and arrays", () => {
    expect(getPath(data, "items[0].id")).toBe(1);
    expect(getPath(data, "items[1].id")).toBe(2);
    expect(getPath(data, "items[0].tags[0]")).toBe("a");
  });

  it("returns falsy values as they are", () => {
    expect(getPath(data, "meta.count")).toBe(0);
    expect(getPath(data, "meta.ok")).toBe(false);
    expect(getOr(data, "meta.empty", "x")).toBe("");
  });

  it("is undefined out of range, on type mismatches and on prototype names", () => {
    expect(getPath(data, "items[5].id")).toBeUndefined();
    expect(getPath(data, "items.id")).toBeUndefined();
    expect(getPath(data, "meta[0]")).toBeUndefined();
    expect(getPath(data, "meta.constructor")).toBeUndefined();
    expect(getPath(data, "items.length")).toBeUndefined();
  });

  it("the empty path is the whole value; keys may contain spaces", () => {
    expect(getPath(data, "")).toBe(data);
    expect(getPath(data, "weird key")).toBe(5);
  });

  it("parses consecutive indexes and rejects malformed paths", () => {
    expect(parsePath("m[0][12]")).toEqual(["m", 0, 12]);
    expect(parsePath("[3]")).toEqual([3]);
    expect(() => parsePath("a[1")).toThrow(PathSyntaxError);
    expect(() => parsePath("a..b")).toThrow(PathSyntaxError);
    expect(() => parsePath("a.")).toThrow(PathSyntaxError);
    expect(() => parsePath("a[-1]")).toThrow(PathSyntaxError);
  });

  it("getOr returns null when the value is null, the fallback only when missing", () => {
    expect(getOr({ a: null }, "a", 1)).toBeNull();
    expect(getOr({ a: null }, "b", 1)).toBe(1);
  });
});
