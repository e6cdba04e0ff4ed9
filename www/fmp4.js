// Minimal ISO-BMFF reading for the init segment: the avc1.PPCCLL codec string and picture size.

export const FALLBACK_CODEC = 'avc1.42c01f';

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'edts', 'dinf']);
// Bytes between a box header and its children: stsd has version/flags + entry_count;
// a VisualSampleEntry has 78 bytes of fixed fields.
const CHILD_OFFSET = { stsd: 8, avc1: 78, avc3: 78, encv: 78 };

function fourcc(v, o) {
  return String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
}

/** Calls visit(type, view, start, end) for every box, descending into known containers. */
function walk(view, start, end, visit) {
  let o = start;
  while (o + 8 <= end) {
    let size = view.getUint32(o);
    const type = fourcc(view, o + 4);
    let header = 8;
    if (size === 1) {
      if (o + 16 > end) return;
      size = Number(view.getBigUint64(o + 8));
      header = 16;
    } else if (size === 0) {
      size = end - o;
    }
    if (size < header || o + size > end) return;
    if (visit(type, view, o + header, o + size) === false) return;
    if (CONTAINERS.has(type) || type in CHILD_OFFSET) {
      walk(view, o + header + (CHILD_OFFSET[type] || 0), o + size, visit);
    }
    o += size;
  }
}

const hex2 = (n) => n.toString(16).padStart(2, '0');

/**
 * Reads an fMP4 init segment (ftyp+moov). Returns { codec, width, height }; codec is null when
 * no avcC box was found (callers fall back to FALLBACK_CODEC).
 */
export function parseInit(buffer) {
  const view = new DataView(buffer instanceof ArrayBuffer ? buffer : buffer.buffer,
    buffer.byteOffset || 0, buffer.byteLength);
  const info = { codec: null, width: 0, height: 0 };
  walk(view, 0, view.byteLength, (type, v, body, end) => {
    if ((type === 'avc1' || type === 'avc3') && body + 28 <= end) {
      info.width = v.getUint16(body + 24);
      info.height = v.getUint16(body + 26);
      info.sampleEntry = type;
    } else if (type === 'avcC' && body + 4 <= end) {
      info.codec = `${info.sampleEntry || 'avc1'}.${hex2(v.getUint8(body + 1))}${hex2(v.getUint8(body + 2))}${hex2(v.getUint8(body + 3))}`;
      return false;
    }
    return true;
  });
  if (!info.codec) {
    // Unusual layout: scan for the avcC fourcc directly.
    const b = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    for (let i = 4; i + 8 <= b.length; i++) {
      if (b[i] === 0x61 && b[i + 1] === 0x76 && b[i + 2] === 0x63 && b[i + 3] === 0x43 && b[i + 4] === 1) {
        info.codec = `avc1.${hex2(b[i + 5])}${hex2(b[i + 6])}${hex2(b[i + 7])}`;
        break;
      }
    }
  }
  delete info.sampleEntry;
  return info;
}
