// LL-HLS media playlist parser: the subset picamd serves (RFC 8216bis, EXT-X-VERSION 10).
//
// parseMediaPlaylist(text, baseUrl) returns
//   { version, targetDuration, partTarget, partHoldBack, canBlockReload, mediaSequence,
//     mapUri, segments: [{ msn, uri, duration, parts, mapUri }], parts: [{ msn, index, uri,
//     duration, independent, gap, mapUri }], preloadHint: { type, uri } | null, endList }
// `parts` is every listed part in playlist order; each part and segment names the init segment
// (EXT-X-MAP) in effect for it, and `mapUri` is the last one (a restarted encoder adds a new one
// behind EXT-X-DISCONTINUITY). All URIs are absolute. A trailing segment that has parts but no
// EXTINF yet (the one being written) appears in `segments` with uri === null.

/** Parses an attribute list (`A=1,B="x,y",C=YES`) into a plain object. */
export function parseAttributes(s) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    if (m[0] === '') break;
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

function num(v, dflt = null) {
  const n = parseFloat(v);
  return Number.isFinite(n) ? n : dflt;
}

export function parseMediaPlaylist(text, baseUrl) {
  const lines = text.split(/\r?\n/);
  if (lines[0].trim() !== '#EXTM3U') throw new Error('not an M3U8 playlist');
  const abs = (u) => new URL(u, baseUrl).href;
  const pl = {
    version: 1,
    targetDuration: null,
    partTarget: null,
    partHoldBack: null,
    canBlockReload: false,
    mediaSequence: 0,
    mapUri: null,
    segments: [],
    parts: [],
    preloadHint: null,
    endList: false,
  };
  let curParts = [];
  let extinf = null;
  const msnNow = () => pl.mediaSequence + pl.segments.length;

  for (let raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    if (!line.startsWith('#')) {
      pl.segments.push({ msn: msnNow(), uri: abs(line), duration: extinf, parts: curParts, mapUri: pl.mapUri });
      curParts = [];
      extinf = null;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-VERSION': pl.version = parseInt(value, 10); break;
      case '#EXT-X-TARGETDURATION': pl.targetDuration = num(value); break;
      case '#EXT-X-MEDIA-SEQUENCE': pl.mediaSequence = parseInt(value, 10) || 0; break;
      case '#EXT-X-ENDLIST': pl.endList = true; break;
      case '#EXTINF': extinf = num(value.split(',')[0]); break;
      case '#EXT-X-PART-INF': pl.partTarget = num(parseAttributes(value)['PART-TARGET']); break;
      case '#EXT-X-SERVER-CONTROL': {
        const a = parseAttributes(value);
        pl.canBlockReload = a['CAN-BLOCK-RELOAD'] === 'YES';
        pl.partHoldBack = num(a['PART-HOLD-BACK']);
        break;
      }
      case '#EXT-X-MAP': {
        const a = parseAttributes(value);
        if (a.URI) pl.mapUri = abs(a.URI);
        break;
      }
      case '#EXT-X-PART': {
        const a = parseAttributes(value);
        if (!a.URI) break;
        const part = {
          msn: msnNow(),
          index: curParts.length,
          uri: abs(a.URI),
          duration: num(a.DURATION, 0),
          independent: a.INDEPENDENT === 'YES',
          gap: a.GAP === 'YES',
          mapUri: pl.mapUri,
        };
        curParts.push(part);
        pl.parts.push(part);
        break;
      }
      case '#EXT-X-PRELOAD-HINT': {
        const a = parseAttributes(value);
        if (a.URI) pl.preloadHint = { type: a.TYPE || 'PART', uri: abs(a.URI) };
        break;
      }
      default: break; // PROGRAM-DATE-TIME, SKIP, DATERANGE, ...: not needed by this player
    }
  }
  if (curParts.length) {
    pl.segments.push({ msn: msnNow(), uri: null, duration: null, parts: curParts, mapUri: pl.mapUri });
  }
  return pl;
}

/** Orders two parts (or {msn, index} keys) by position in the stream. */
export function comparePartKeys(a, b) {
  return a.msn !== b.msn ? a.msn - b.msn : a.index - b.index;
}
