import { TokenizeError, tokenize } from "../src/tokenizer";

describe("acceptance: tokenize", () => {
  it("tokenizes a call with parentheses and commas", () => {
    expect(tokenize("max(a1, 2.5)").map((t) => [t.kind, t.value, t.position])).toEqual([
      ["identifier", "max", 0],
      ["lparen", "(", 3],
      ["identifier", "a1", 4],
      ["operator", ",", 6],
      ["number", "2.5", 8],
      ["rparen", ")", 11],
    ]);
  });

  it("a number followed by a dot and no digit stops before the dot", () => {
    expect(() => tokenize("1.")).toThrow(TokenizeError);
    expect(tokenize("10.25 * 2").map((t) => t.value)).toEqual(["10.25", "*", "2"]);
  });

  it("strings keep inner spaces and report the opening quote's position", () => {
    const [t] = tokenize('  "a b"');
    expect(t).toEqual({ kind: "string", value: "a b", position: 2 });
  });

  it("an empty string literal is a token with an empty value", () => {
    expect(tokenize('""').map((t) => t.value)).toEqual([""]);
  });

  it("an unterminated string is an error at its start", () => {
    let caught: unknown;
    try {
      tokenize('x = "oops');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TokenizeError);
    expect((caught as TokenizeError).position).toBe(4);
  });

  it("logical and comparison operators", () => {
    expect(tokenize("a==b&&c!=d||!e").map((t) => t.value)).toEqual([
      "a", "==", "b", "&&", "c", "!=", "d", "||", "!", "e",
    ]);
  });

  it("whitespace only gives no tokens", () => {
    expect(tokenize(" \t\n ")).toEqual([]);
  });
});
