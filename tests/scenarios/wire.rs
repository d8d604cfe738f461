//! The TLS and DER layouts the scenarios build their messages from: length-prefixed vectors
//! (RFC 8446 §3.4), records (§5.1), handshake messages (§4), extensions (§4.2), and DER TLVs
//! (X.690 §8.1).

/// A vector with a 16-bit length.
pub fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A vector with a 24-bit length.
pub fn vec24(body: &[u8]) -> Vec<u8> {
    let n = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = n[1..].to_vec();
    v.extend_from_slice(body);
    v
}

/// A TLS record: content type, version 0x0303, 16-bit length, body.
pub fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0x03, 0x03];
    v.extend(vec16(body));
    v
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend(vec24(body));
    v
}

/// One extension: type, then its data as a 16-bit vector.
pub fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(vec16(data));
    v
}

/// A DER TLV with a definite length: short form below 128, else 0x81 or 0x82 long form.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(u8::try_from(n).unwrap()),
        n if n < 0x100 => v.extend([0x81, u8::try_from(n).unwrap()]),
        n => {
            v.push(0x82);
            v.extend(u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    v.extend_from_slice(body);
    v
}
