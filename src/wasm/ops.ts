// The template program ops the WebAssembly typer runs (src/wasm/typer.ts) and its host writes
// (src/parse/qemu-wasm.ts): one word each, then the operands named here. Plain constants, so both the
// AssemblyScript and the TypeScript compiler read this one file.

export const OP_END = 0;
/** n, then its bytes packed four to a word (little-endian, the last word zero-padded). */
export const OP_LIT = 1;
/** slot, max digits, has limit, limit (u32), signed. */
export const OP_DEC = 2;
/** slot, max digits, has limit, limit (u32), signed. */
export const OP_HEX = 3;
/** slot. */
export const OP_WORD = 4;
/** slot, anchored, until length (-1: none), then its bytes one to a word. */
export const OP_STR = 5;
/** Address of the word after the group's OP_OPT_END. */
export const OP_OPT = 6;
export const OP_OPT_END = 7;
/** slot: a field of an optional group, absent (NaN) unless the group fits. */
export const OP_NAN = 8;
