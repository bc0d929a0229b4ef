import { PathSyntaxError, getOr, getPath, parsePath } from "../src/json_path";
import { JsonValue } from "../src/types";

const doc: JsonValue = { user: { name: "ada", tags: ["x", "y"], address: null } };

describe("getPath", () => {
  it("reads nested properties", () => {
    expect(getPath(doc, "user.name")).toBe("ada");
  });

  it("reads array indexes", () => {
    expect(getPath(doc, "user.tags[1]")).toBe("y");
  });

  it("returns undefined for a missing path", () => {
    expect(getPath(doc, "user.age")).toBeUndefined();
    expect(getPath(doc, "user.address.street")).toBeUndefined();
  });

  it("does not read inherited properties", () => {
    expect(getPath(doc, "user.toString")).toBeUndefined();
  });

  it("parses paths and rejects bad ones", () => {
    expect(parsePath("a.b[2].c")).toEqual(["a", "b", 2, "c"]);
    expect(() => parsePath("a[x]")).toThrow(PathSyntaxError);
  });

  it("getOr falls back", () => {
    expect(getOr(doc, "user.nick", "anon")).toBe("anon");
  });
});
