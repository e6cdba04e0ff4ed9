//! The AMF0 subset RTMP commands use (number, boolean, string, object, null, undefined, ECMA
//! array), encoded and decoded without IO.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Amf {
    Number(f64),
    Bool(bool),
    String(String),
    Object(Vec<(String, Amf)>),
    Null,
    Undefined,
    EcmaArray(Vec<(String, Amf)>),
}

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const DATE: u8 = 0x0B;
const LONG_STRING: u8 = 0x0C;

/// Nesting deeper than this is refused (a peer controls the input).
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmfError {
    Truncated,
    UnknownMarker(u8),
    TooDeep,
}

impl fmt::Display for AmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmfError::Truncated => write!(f, "truncated AMF0 value"),
            AmfError::UnknownMarker(m) => write!(f, "unsupported AMF0 marker 0x{m:02x}"),
            AmfError::TooDeep => write!(f, "AMF0 values nested too deeply"),
        }
    }
}

impl Amf {
    pub fn str(s: &str) -> Amf {
        Amf::String(s.to_string())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Amf::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A property of an object or ECMA array.
    pub fn get(&self, key: &str) -> Option<&Amf> {
        match self {
            Amf::Object(props) | Amf::EcmaArray(props) => {
                props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Amf::Number(n) => {
                out.push(NUMBER);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Amf::Bool(b) => {
                out.push(BOOLEAN);
                out.push(u8::from(*b));
            }
            Amf::String(s) => {
                out.push(STRING);
                put_utf8(out, s);
            }
            Amf::Object(props) => {
                out.push(OBJECT);
                put_props(out, props);
            }
            Amf::Null => out.push(NULL),
            Amf::Undefined => out.push(UNDEFINED),
            Amf::EcmaArray(props) => {
                out.push(ECMA_ARRAY);
                out.extend_from_slice(&(props.len() as u32).to_be_bytes());
                put_props(out, props);
            }
        }
    }
}

/// Encodes a sequence of values (a command: name, transaction id, arguments).
pub fn encode_all(values: &[Amf]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    for v in values {
        v.encode(&mut out);
    }
    out
}

/// Decodes every value in `data`.
pub fn decode_all(mut data: &[u8]) -> Result<Vec<Amf>, AmfError> {
    let mut values = Vec::new();
    while !data.is_empty() {
        values.push(decode(&mut data, 0)?);
    }
    Ok(values)
}

fn put_utf8(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let bytes = bytes.get(..usize::from(u16::MAX)).unwrap_or(bytes);
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_props(out: &mut Vec<u8>, props: &[(String, Amf)]) {
    for (k, v) in props {
        put_utf8(out, k);
        v.encode(out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], AmfError> {
    if data.len() < n {
        return Err(AmfError::Truncated);
    }
    let (head, tail) = data.split_at(n);
    *data = tail;
    Ok(head)
}

fn u16_at(data: &mut &[u8]) -> Result<usize, AmfError> {
    let b = take(data, 2)?;
    Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
}

fn u32_at(data: &mut &[u8]) -> Result<usize, AmfError> {
    let b = take(data, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn utf8(data: &mut &[u8], len: usize) -> Result<String, AmfError> {
    Ok(String::from_utf8_lossy(take(data, len)?).into_owned())
}

fn decode(data: &mut &[u8], depth: usize) -> Result<Amf, AmfError> {
    if depth > MAX_DEPTH {
        return Err(AmfError::TooDeep);
    }
    let marker = take(data, 1)?[0];
    Ok(match marker {
        NUMBER => {
            let b = take(data, 8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Amf::Number(f64::from_be_bytes(a))
        }
        BOOLEAN => Amf::Bool(take(data, 1)?[0] != 0),
        STRING => {
            let len = u16_at(data)?;
            Amf::String(utf8(data, len)?)
        }
        LONG_STRING => {
            let len = u32_at(data)?;
            Amf::String(utf8(data, len)?)
        }
        OBJECT => Amf::Object(props(data, depth)?),
        NULL => Amf::Null,
        UNDEFINED => Amf::Undefined,
        ECMA_ARRAY => {
            take(data, 4)?;
            Amf::EcmaArray(props(data, depth)?)
        }
        STRICT_ARRAY => {
            let count = u32_at(data)?;
            let mut items = Vec::new();
            for i in 0..count {
                items.push((i.to_string(), decode(data, depth + 1)?));
            }
            Amf::EcmaArray(items)
        }
        DATE => {
            take(data, 10)?;
            Amf::Undefined
        }
        other => return Err(AmfError::UnknownMarker(other)),
    })
}

fn props(data: &mut &[u8], depth: usize) -> Result<Vec<(String, Amf)>, AmfError> {
    let mut props = Vec::new();
    loop {
        let len = u16_at(data)?;
        if len == 0 {
            if data.first() == Some(&OBJECT_END) {
                take(data, 1)?;
                return Ok(props);
            }
            if data.is_empty() {
                return Err(AmfError::Truncated);
            }
        }
        let key = utf8(data, len)?;
        props.push((key, decode(data, depth + 1)?));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let values = vec![
            Amf::str("connect"),
            Amf::Number(1.0),
            Amf::Object(vec![
                ("app".into(), Amf::str("live2")),
                ("fpad".into(), Amf::Bool(false)),
                ("n".into(), Amf::Null),
            ]),
            Amf::Null,
            Amf::Undefined,
            Amf::EcmaArray(vec![("width".into(), Amf::Number(1280.0))]),
        ];
        let bytes = encode_all(&values);
        assert_eq!(decode_all(&bytes).unwrap(), values);
    }

    #[test]
    fn known_bytes() {
        // "_result" as an AMF0 string, then the number 1.
        let bytes = encode_all(&[Amf::str("_result"), Amf::Number(1.0)]);
        assert_eq!(
            bytes,
            [2, 0, 7, b'_', b'r', b'e', b's', b'u', b'l', b't', 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn truncated_and_hostile_input_is_an_error() {
        let bytes = encode_all(&[Amf::Object(vec![("k".into(), Amf::str("value"))])]);
        for cut in 1..bytes.len() {
            assert!(decode_all(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode_all(&[0x42]), Err(AmfError::UnknownMarker(0x42)));
        let deep: Vec<u8> = std::iter::repeat_n([OBJECT, 0, 1, b'k'], 40)
            .flatten()
            .collect();
        assert!(decode_all(&deep).is_err());
    }
}
