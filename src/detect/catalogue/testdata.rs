//! Messages laid out field by field for the catalogue's tests: TLS records (RFC 8446 §5.1), a
//! ClientHello with server_name and ALPN (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1), a
//! TLS 1.2 server flight with a certificate (RFC 5246 §7.4.1.3, §7.4.2), and a minimal X.509
//! certificate in DER (RFC 5280 §4.1, X.690 §8).

/// A TLS record of `kind` with version 0x0301 (RFC 8446 §5.1).
pub(super) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0x03, 0x01];
    v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A handshake message: type, 24-bit length, body (RFC 8446 §4).
fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = vec![kind, len[1], len[2], len[3]];
    v.extend_from_slice(body);
    v
}

fn len16(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(len16(body));
    v
}

/// A ClientHello in one record: TLS 1.2 legacy version, zero random, no session id, suites
/// 0x1301 and 0xc02f, null compression, then server_name (type 0, host_name 0) when `sni` is
/// given, ALPN (type 16) when `alpn` is not empty, and supported_versions (type 43) = TLS 1.3.
pub(super) fn client_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([0u8; 32]);
    body.push(0);
    body.extend(len16(&[0x13, 0x01, 0xc0, 0x2f]));
    body.extend([1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        entry.extend(len16(name.as_bytes()));
        exts.extend(ext(0x0000, &len16(&entry)));
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for id in alpn {
            list.push(u8::try_from(id.len()).unwrap());
            list.extend_from_slice(id.as_bytes());
        }
        exts.extend(ext(0x0010, &len16(&list)));
    }
    exts.extend(ext(0x002b, &[0x02, 0x03, 0x04]));
    body.extend(len16(&exts));
    record(0x16, &handshake(0x01, &body))
}

/// A TLS 1.2 server flight: ServerHello (suite 0xc02f, no extensions) and a Certificate
/// message carrying `leaf`, each in its own record.
pub(super) fn server_flight(leaf: &[u8]) -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend([0x11u8; 32]);
    hello.extend([0x00, 0xc0, 0x2f, 0x00]);
    let mut v = record(0x16, &handshake(0x02, &hello));
    let entry = u24(leaf);
    v.extend(record(0x16, &handshake(0x0b, &u24(&entry))));
    v
}

fn u24(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = vec![len[1], len[2], len[3]];
    v.extend_from_slice(body);
    v
}

/// DER TLV (X.690 §8.1: short form below 128, else 0x81/0x82 long form).
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(u8::try_from(n).unwrap()),
        n if n < 0x100 => v.extend([0x81, u8::try_from(n).unwrap()]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(body);
    v
}

/// A Name (RFC 5280 §4.1.2.4) with optional commonName (2.5.4.3) and organizationName
/// (2.5.4.10), as UTF8Strings.
fn name(cn: Option<&str>, o: Option<&str>) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (oid, v) in [([0x55, 0x04, 0x0a], o), ([0x55, 0x04, 0x03], cn)] {
        if let Some(v) = v {
            let mut atv = tlv(0x06, &oid);
            atv.extend(tlv(0x0c, v.as_bytes()));
            rdns.extend(tlv(0x31, &tlv(0x30, &atv)));
        }
    }
    tlv(0x30, &rdns)
}

/// Names for [`certificate`].
#[derive(Default)]
pub(super) struct CertNames<'a> {
    /// Subject commonName.
    pub(super) subject_cn: Option<&'a str>,
    /// Subject organizationName.
    pub(super) subject_o: Option<&'a str>,
    /// Issuer commonName.
    pub(super) issuer_cn: Option<&'a str>,
    /// Issuer organizationName.
    pub(super) issuer_o: Option<&'a str>,
    /// subjectAltName dNSNames.
    pub(super) san: &'a [&'a str],
}

/// A v3 certificate (RFC 5280 §4.1) with an Ed25519 key (RFC 8410) and, when `san` is not
/// empty, a subjectAltName extension of dNSNames (§4.2.1.6). The signature is zero bytes: the
/// parser reads names, it does not verify.
pub(super) fn certificate(n: &CertNames<'_>) -> Vec<u8> {
    let ed25519 = tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x70]));
    let mut tbs = tlv(0xa0, &tlv(0x02, &[0x02]));
    tbs.extend(tlv(0x02, &[0x01, 0x23]));
    tbs.extend(ed25519.clone());
    tbs.extend(name(n.issuer_cn, n.issuer_o));
    let mut validity = tlv(0x17, b"240101000000Z");
    validity.extend(tlv(0x17, b"340101000000Z"));
    tbs.extend(tlv(0x30, &validity));
    tbs.extend(name(n.subject_cn, n.subject_o));
    let mut spki = ed25519.clone();
    let mut key = vec![0u8];
    key.extend([0x42u8; 32]);
    spki.extend(tlv(0x03, &key));
    tbs.extend(tlv(0x30, &spki));
    if !n.san.is_empty() {
        let mut names = Vec::new();
        for d in n.san {
            names.extend(tlv(0x82, d.as_bytes()));
        }
        let mut e = tlv(0x06, &[0x55, 0x1d, 0x11]);
        e.extend(tlv(0x04, &tlv(0x30, &names)));
        tbs.extend(tlv(0xa3, &tlv(0x30, &tlv(0x30, &e))));
    }
    let mut cert = tlv(0x30, &tbs);
    cert.extend(ed25519);
    let mut sig = vec![0u8];
    sig.extend([0u8; 64]);
    cert.extend(tlv(0x03, &sig));
    tlv(0x30, &cert)
}

/// RFC 9001 Appendix A.2: the protected client Initial (QUIC v1, 1200 bytes) whose ClientHello
/// names `example.com`.
pub(super) const RFC9001_CLIENT_INITIAL: &str = "
    c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
    d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
    1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
    8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
    30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
    457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
    4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
    4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
    485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
    059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
    7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
    9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
    be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
    68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
    c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
    f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
    291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
    25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
    14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
    ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
    e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
    c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
    203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
    cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
    fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
    a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
    90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
    162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
    40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
    6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
    8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
    be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
    54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
    760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
    f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
    056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
    7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
    e221af44860018ab0856972e194cd934";

/// Decodes hex, ignoring whitespace.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
