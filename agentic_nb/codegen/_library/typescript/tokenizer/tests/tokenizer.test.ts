import { TokenizeError, tokenize } from "../src/tokenizer";

const kinds = (src: string): string[] => tokenize(src).map((t) => `${t.kind}:${t.value}`);

describe("tokenize", () => {
  it("splits an expression into tokens", () => {
    expect(kinds("x + 42")).toEqual(["identifier:x", "operator:+", "number:42"]);
  });

  it("reads decimal numbers", () => {
    expect(kinds("3.14")).toEqual(["number:3.14"]);
  });

  it("reads string literals without quotes", () => {
    expect(kinds('"hi there"')).toEqual(["string:hi there"]);
  });

  it("prefers two-character operators", () => {
    expect(kinds("a<=b")).toEqual(["identifier:a", "operator:<=", "identifier:b"]);
  });

  it("records 0-based positions", () => {
    expect(tokenize("ab + c").map((t) => t.position)).toEqual([0, 3, 5]);
  });

  it("throws TokenizeError on an unknown character", () => {
    expect(() => tokenize("a # b")).toThrow(TokenizeError);
  });
});
