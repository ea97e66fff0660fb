/**
 * Escaping for text that comes from traces. A guest can print anything to its serial console, and a
 * trace file can hold anything at all: every report shows such text inert and visible, never as
 * terminal control, markup or a reordered line.
 */

/**
 * Code points shown as escapes in every report: C0 controls, DEL, C1 controls, Unicode format and
 * separator characters that reorder or hide text (bidi embeddings/overrides/isolates, marks, zero-width
 * characters, line/paragraph separators, BOM, interlinear annotation), lone surrogates and the
 * noncharacters U+FFFE/U+FFFF.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.charCodeAt(0);
  if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, '0')}`;
  return `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** `\x1b[2J` → `\\x1b[2J`, U+202E → `\\u202e`: untrusted text made inert and visible, for any report. */
export function visible(s: string): string {
  return s.replace(UNSAFE, escapeOne);
}

/** True when the text holds something `visible()` would escape. */
export function hasUnsafe(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const r = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return r;
}

/** HTML text and attribute values (double-quoted). Apply to the output of `visible()`. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => HTML_ENTITY[c]!);
}
const HTML_ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/**
 * Characters XML 1.0 forbids (§2.2 Char): C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF.
 * Trace text reaches XML through `visible()` first, so these only remain in our own strings; stripping
 * them keeps the document well formed whatever happens upstream.
 */
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const XML_ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function stripXmlForbidden(s: string): string {
  return s.replace(XML_FORBIDDEN, '');
}

/** XML character data and attribute values: forbidden characters stripped, markup and whitespace in attributes escaped. */
export function escapeXml(s: string, attribute = false): string {
  const t = stripXmlForbidden(s).replace(attribute ? /[&<>"']/g : /[&<>]/g, (c) => XML_ENTITY[c]!);
  // Attribute-value normalisation would turn raw tab/LF/CR into spaces: keep them as references.
  return attribute ? t.replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`) : t;
}

/**
 * JSON text that is safe to print and to embed: JSON.stringify already escapes C0 controls; this also
 * escapes everything `visible()` treats as unsafe (C1, bidi, separators, lone surrogates) as \uXXXX,
 * so the JSON value is unchanged but the file never carries them raw.
 */
export function safeJson(value: unknown, indent = 2): string {
  const bigintAsHex = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v);
  return JSON.stringify(value, bigintAsHex, indent).replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** UNSAFE less the C0 controls, which JSON.stringify escapes itself (and whose raw LF is the indentation). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff]/g;

/**
 * Inline Markdown (GitHub-flavoured) is parsed even between inline HTML tags, so both helpers below
 * neutralise the characters that could form markup (emphasis, code, links, images, tables, strikethrough,
 * math, HTML, entities) as HTML entities, which GFM renders as the plain character; break `scheme://` and
 * `www.` so no autolink forms; and follow `@` and `#` with a WORD JOINER so no @mention or #reference forms.
 */
const MD_ACTIVE = /[\\`*_{}[\]()<>!|~&$"']|:(?=\/\/)|(?<=www)\.|[@#]/gi;

function neutraliseMarkdown(s: string): string {
  return s.replace(MD_ACTIVE, (c) => (c === '@' || c === '#' ? `${c}&#8288;` : `&#${c.charCodeAt(0)};`));
}

/** Markdown inline text from untrusted input: made visible, then neutralised (see above). */
export function escapeMarkdown(s: string): string {
  return neutraliseMarkdown(visible(s));
}

/** Untrusted text as inline code: an HTML `<code>` element whose content is neutralised the same way. */
export function markdownCode(s: string): string {
  return `<code>${neutraliseMarkdown(visible(s))}</code>`;
}
