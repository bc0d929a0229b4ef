export type TokenKind = "number" | "identifier" | "string" | "operator" | "lparen" | "rparen";

export interface Token {
  readonly kind: TokenKind;
  /** The token's text; for strings, the text between the quotes. */
  readonly value: string;
  /** 0-based index of the token's first character in the source. */
  readonly position: number;
}
