// Reads the data of a report page (payload format 3, cli/report.cpp header
// comment) the way an independent reader would: the JSON head, the blob
// (base 125, decoded here from its definition with BigInt, not with the
// page's code), the deflated file table.
import zlib from 'node:zlib';

export const DATA_RE = /<script type="application\/json" id="convergent-data">([\s\S]*?)<\/script>/;
export const BLOB_RE = /<script type="application\/octet-stream" id="convergent-blob">([\s\S]*?)<\/script>/;

// base125: every 7 characters are a 48-bit number in base 125 (digit d is
// the d-th of the ASCII characters 1-127 without 13 and 60), most
// significant digit first, which is 6 bytes, big-endian; the first `bytes`
// bytes are the blob.
export function decodeBase125(text, bytes) {
  if (text.length !== 7 * Math.ceil(bytes / 6)) throw new Error('blob length mismatch');
  const digits = [];
  for (let c = 1; c < 128; c++) if (c !== 13 && c !== 60) digits.push(c);
  const value = new Map(digits.map((c, d) => [c, BigInt(d)]));
  const out = Buffer.alloc(Math.ceil(bytes / 6) * 6);
  for (let g = 0; g * 7 < text.length; g++) {
    let v = 0n;
    for (let i = 7 * g; i < 7 * g + 7; i++) {
      const d = value.get(text.charCodeAt(i));
      if (d === undefined) throw new Error('character ' + i + ' is not a base-125 digit');
      v = v * 125n + d;
    }
    if (v >= 1n << 48n) throw new Error('group ' + g + ' is more than 48 bits');
    out.writeUIntBE(Number(v), 6 * g, 6);
  }
  return out.subarray(0, bytes);
}

// The page's payload with the file table merged in (payload.files,
// atlases, ...) and accessors for the stored bytes of an entry.
export function readPage(html) {
  const payload = JSON.parse(html.match(DATA_RE)[1]);
  const blobMatch = html.match(BLOB_RE);
  const blob = blobMatch ? decodeBase125(blobMatch[1], payload.blob.bytes) : Buffer.alloc(0);
  const stored = (entry) => blob.subarray(entry.offset, entry.offset + entry.length);
  const inflated = (entry) => zlib.inflateSync(stored(entry));
  if (payload.index) Object.assign(payload, JSON.parse(inflated(payload.index).toString('utf8')));
  return { payload, blob, stored, inflated };
}

// The page with its JSON head replaced by payload (the blob kept): a
// payload with its own "files" is read as it is (the page's fallback for
// formats 1-2 and edited pages), entries may be format-1 base64 strings.
export function withPayload(html, payload) {
  const { index, ...rest } = payload;
  const text = JSON.stringify(payload.files ? rest : payload).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return html.replace(DATA_RE, () => '<script type="application/json" id="convergent-data">' + text + '</script>');
}
