/**
 * A tiny XML writer for the descriptors: escaping plus an element tree that
 * renders either indented (for files people read) or compact (ova.xml).
 *
 * Text that cannot appear in an XML 1.0 document at all (most control
 * characters, lone surrogates, U+FFFE/U+FFFF) is rejected rather than dropped,
 * so a bad value fails the build instead of producing a descriptor that some
 * importer later refuses.
 */

// Characters XML 1.0 allows. With the `u` flag a surrogate pair is one code
// point (allowed) and a lone surrogate falls outside every range (rejected).
const INVALID_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function assertXmlChars(value: string): void {
  const bad = INVALID_XML_CHAR.exec(value);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new Error(`XML cannot carry the character U+${code} in ${JSON.stringify(value)}`);
  }
}

/** Escapes character data (element content). */
export function escapeXmlText(value: string): string {
  assertXmlChars(value);
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value written between double quotes. */
export function escapeXmlAttr(value: string): string {
  // Tab, LF and CR are written as references: a parser would otherwise
  // normalise them to spaces.
  return escapeXmlText(value)
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

export interface XmlElement {
  kind: 'element';
  name: string;
  attrs: ReadonlyArray<readonly [string, string]>;
  children: XmlNode[];
}

export interface XmlComment {
  kind: 'comment';
  text: string;
}

/** A string child is text. */
export type XmlNode = XmlElement | XmlComment | string;

/** Attributes keep the order given; `undefined` values are left out. */
export type XmlAttrs = Record<string, string | number | undefined>;

export function el(name: string, attrs: XmlAttrs = {}, ...children: XmlNode[]): XmlElement {
  const list: Array<readonly [string, string]> = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) list.push([key, String(value)]);
  }
  return { kind: 'element', name, attrs: list, children };
}

/** An element holding only text, e.g. `text('rasd:InstanceID', 1)`. */
export function text(name: string, value: string | number, attrs: XmlAttrs = {}): XmlElement {
  return el(name, attrs, String(value));
}

export function comment(body: string): XmlComment {
  if (body.includes('--') || body.endsWith('-')) {
    throw new Error(`an XML comment cannot contain "--" or end with "-": ${JSON.stringify(body)}`);
  }
  assertXmlChars(body);
  return { kind: 'comment', text: body };
}

export interface RenderOptions {
  /** Write `<?xml version="1.0" encoding="UTF-8"?>` first (default true). */
  declaration?: boolean;
  /** Indent nested elements by two spaces (default true); false writes no whitespace at all. */
  indent?: boolean;
}

export function renderXml(root: XmlElement, options: RenderOptions = {}): string {
  const indent = options.indent ?? true;
  const out: string[] = [];
  if (options.declaration ?? true) out.push('<?xml version="1.0" encoding="UTF-8"?>', indent ? '\n' : '');
  write(root, 0);
  if (indent) out.push('\n');
  return out.join('');

  function write(node: XmlNode, depth: number): void {
    const pad = indent ? '  '.repeat(depth) : '';
    if (typeof node === 'string') {
      out.push(escapeXmlText(node));
      return;
    }
    if (node.kind === 'comment') {
      out.push(pad, '<!--', node.text, '-->');
      return;
    }
    const attrs = node.attrs.map(([k, v]) => ` ${k}="${escapeXmlAttr(v)}"`).join('');
    if (node.children.length === 0) {
      out.push(pad, `<${node.name}${attrs}/>`);
      return;
    }
    out.push(pad, `<${node.name}${attrs}>`);
    // Mixed content is never indented: whitespace would change the text.
    const inline = !indent || node.children.some((c) => typeof c === 'string');
    for (const child of node.children) {
      if (!inline) out.push('\n');
      write(child, inline ? 0 : depth + 1);
    }
    if (!inline) out.push('\n', pad);
    out.push(`</${node.name}>`);
  }
}
