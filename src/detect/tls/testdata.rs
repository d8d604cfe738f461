//! Test vectors shared by this module's tests, each with its origin, and the TLS and DER
//! layouts every detector's tests build their records, hellos and certificates from.

/// Decodes hex, ignoring whitespace.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// A vector with a 16-bit length (RFC 8446 §3.4).
pub(crate) fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A vector with a 24-bit length (RFC 8446 §3.4).
pub(crate) fn vec24(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = len[1..].to_vec();
    v.extend_from_slice(body);
    v
}

/// One TLS record: type, version 0x0301, 16-bit length, body (RFC 8446 §5.1).
pub(crate) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0x03, 0x01];
    v.extend(vec16(body));
    v
}

/// One handshake message: type, 24-bit length, body (RFC 8446 §4).
pub(crate) fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend(vec24(body));
    v
}

/// One extension: type, then its data as a 16-bit vector (RFC 8446 §4.2).
pub(crate) fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(vec16(data));
    v
}

/// A DER TLV (X.690 §8.1: short form below 128, else 0x81/0x82 long form).
pub(crate) fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(u8::try_from(n).unwrap()),
        n if n < 0x100 => v.extend([0x81, u8::try_from(n).unwrap()]),
        n => {
            v.push(0x82);
            v.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    v.extend_from_slice(body);
    v
}

/// RFC 9001 Appendix A.2: the client Initial's CRYPTO frame payload, a complete ClientHello
/// handshake message (type 1, length 0xed) for "example.com" with ALPN "alpn".
pub(super) const RFC9001_CLIENT_HELLO: &str = "
    010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47
    f06a2b69484c00000413011302010000c000000010000e00000b6578616d706c
    652e636f6dff01000100000a00080006001d0017001800100007000504616c70
    6e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559f
    edba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d001000
    0e0403050306030203080408050806002d00020101001c000240010039003204
    08ffffffffffffffff05048000ffff07048000ffff0801100104800075300901
    100f088394c8f03e51570806048000ffff";

/// The RFC 9001 Appendix A.2 ClientHello message as bytes.
pub(super) fn rfc9001_client_hello() -> Vec<u8> {
    hex(RFC9001_CLIENT_HELLO)
}

/// RFC 9001 Appendix A.2: the complete protected client Initial packet (1200 bytes, QUIC v1,
/// DCID 8394c8f03e515708, packet number 2).
pub(crate) const RFC9001_CLIENT_INITIAL: &str = "
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

/// RFC 9001 Appendix A.3: the server's protected Initial (ServerHello inside), a server packet
/// that a client-Initial parser must refuse.
pub(super) const RFC9001_SERVER_INITIAL: &str = "
    cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
    5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
    dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
    022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
    2158407dd074ee";

/// RFC 9001 Appendix A.3: the server Initial's unprotected CRYPTO frame payload, a TLS 1.3
/// ServerHello handshake message (cipher 0x1301, key_share x25519, supported_versions 0x0304).
pub(super) const RFC9001_SERVER_HELLO: &str = "
    020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5
    430b9a045a1200130100002e00330024001d00209d3c940d89690b84d08a6099
    3c144eca684d1081287c834d5311bcf32bb9da1a002b00020304";

/// RFC 9369 Appendix A.2: the same client Initial protected with QUIC version 2 (0x6b3343cf).
pub(super) const RFC9369_CLIENT_INITIAL: &str = "
    d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
    dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
    9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
    250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
    12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
    cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
    18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
    12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
    d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
    6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
    bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
    636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
    ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
    16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
    4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
    fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
    8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
    14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
    9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
    abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
    80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
    848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
    d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
    c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
    7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
    f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
    10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
    3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
    06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
    8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
    34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
    e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
    5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
    8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
    d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
    6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
    9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
    a18b2faa745b6fe189cf772a9f84cbfc";

/// A leaf certificate made for these tests with OpenSSL 3.0 (`openssl req -x509` for a CA
/// "O=Test CA Ltd, CN=Test Issuing CA", then `openssl x509 -req` for "O=Example Org,
/// CN=vpn.example.net" with `subjectAltName=DNS:vpn.example.net,DNS:*.VPN.example.net,
/// IP:192.0.2.1`), DER, 477 bytes, P-256 key. Not from any real site.
pub(super) const TEST_LEAF_CERT: &str = "
    308201d93082017fa003020102021469a9933b1d40753869d205cf6680768fce
    c8bf2b300a06082a8648ce3d040302303031143012060355040a0c0b54657374
    204341204c74643118301606035504030c0f546573742049737375696e672043
    41301e170d3236313132333131353332325a170d333631313230313135333232
    5a303031143012060355040a0c0b4578616d706c65204f726731183016060355
    04030c0f76706e2e6578616d706c652e6e65743059301306072a8648ce3d0201
    06082a8648ce3d0301070342000449ba39f581ce6ba5e2b831d7d2f2f26ab251
    844d15691cc94708cea4b7551f68bad31bdeacb27ab4671da7cc7ffda6c555e9
    9d8277f43af24578a3e016ff2c99a377307530330603551d11042c302a820f76
    706e2e6578616d706c652e6e657482112a2e56504e2e6578616d706c652e6e65
    748704c0000201301d0603551d0e041604147253c5be50c6e58db205c213cba1
    46ec6004ecfa301f0603551d23041830168014791dfd09a91a453be2d0584d69
    8e1b0c82f5cb87300a06082a8648ce3d04030203480030450220093d69c769dc
    1929f13e297da4a296bbac2787d96ca4c78191032e847bf24aff022100e74553
    c506d7132734e6729bd6d61ba71430a7c6369f6556fd2af8a7995f8acc";

/// A DNS query for example.com A, laid out per RFC 1035 §4.1: id 0x1234, flags 0x0100 (RD),
/// QDCOUNT 1, then QNAME, QTYPE 1, QCLASS 1.
pub(super) const DNS_QUERY: &[u8] =
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

/// A STUN Binding Request per RFC 5389 §6: type 0x0001, length 0, magic cookie 0x2112a442,
/// 12-byte transaction id.
pub(super) const STUN_BINDING_REQUEST: &[u8] =
    b"\x00\x01\x00\x00\x21\x12\xa4\x42\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";

/// Cipher suites of the FoxIO JA4 specification's worked example (technical_details/JA4.md,
/// "Cipher hash"), in wire order, preceded by a GREASE value that JA4 must ignore.
pub(super) const JA4_EXAMPLE_CIPHERS: [u16; 16] = [
    0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
    0x009c, 0x009d, 0x002f, 0x0035,
];

/// Extension types of the JA4 worked example ("Extension hash"), in wire order.
pub(super) const JA4_EXAMPLE_EXTENSIONS: [u16; 16] = [
    0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
    0xff01, 0x000b, 0x000a, 0x0015,
];

/// Signature algorithms of the JA4 worked example, in wire order.
pub(super) const JA4_EXAMPLE_SIG_ALGS: [u16; 8] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
];

/// Plausible contents for each extension type of the JA4 example (RFC 8446 §4.2 layouts).
fn ja4_example_ext_body(ty: u16) -> Vec<u8> {
    match ty {
        // server_name: list<2> of { type 0, host_name<2> } (RFC 6066 §3).
        0x0000 => vec16(&[&[0u8][..], &vec16(b"www.example.org")].concat()),
        // ALPN: list<2> of name<1> (RFC 7301 §3.1).
        0x0010 => vec16(b"\x02h2\x08http/1.1"),
        // signature_algorithms: list<2> of u16 (RFC 8446 §4.2.3), with a GREASE value first.
        0x000d => {
            let mut l = 0x1a1a_u16.to_be_bytes().to_vec();
            for a in JA4_EXAMPLE_SIG_ALGS {
                l.extend_from_slice(&a.to_be_bytes());
            }
            vec16(&l)
        }
        // supported_versions: list<1> of u16 (RFC 8446 §4.2.1), GREASE first.
        0x002b => b"\x06\x2a\x2a\x03\x04\x03\x03".to_vec(),
        // supported_groups with GREASE, x25519, secp256r1, secp384r1 (RFC 8446 §4.2.7).
        0x000a => vec16(b"\x3a\x3a\x00\x1d\x00\x17\x00\x18"),
        // key_share: list<2> of { group x25519, key<2> of 32 bytes } (RFC 8446 §4.2.8).
        0x0033 => vec16(&[&b"\x00\x1d"[..], &vec16(&[0x42; 32])].concat()),
        0x000b => b"\x01\x00".to_vec(),
        0x002d => b"\x01\x01".to_vec(),
        0xff01 => b"\x00".to_vec(),
        0x0005 => b"\x01\x00\x00\x00\x00".to_vec(),
        0x001b => b"\x02\x00\x02".to_vec(),
        0x4469 => b"\x00\x03\x02h2".to_vec(),
        0x0015 => vec![0; 20],
        _ => Vec::new(),
    }
}

/// A ClientHello handshake message with the given cipher suites and extensions (RFC 8446
/// §4.1.2: version 0x0303, zero random, 32-byte session id, null compression).
pub(super) fn client_hello_message(ciphers: &[u16], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]);
    body.push(32);
    body.extend_from_slice(&[0x22; 32]);
    let cs: Vec<u8> = ciphers.iter().flat_map(|c| c.to_be_bytes()).collect();
    body.extend_from_slice(&vec16(&cs));
    body.extend_from_slice(&[1, 0]);
    let mut block = Vec::new();
    for (ty, data) in exts {
        block.extend(ext(*ty, data));
    }
    body.extend_from_slice(&vec16(&block));
    handshake(1, &body)
}

/// The JA4 worked example as a ClientHello message: its 15 ciphers, 16 extensions and 8
/// signature algorithms, plus GREASE values (a cipher, two extensions, a version, a group and
/// a signature algorithm) that the fingerprint must ignore.
pub(super) fn ja4_example_message() -> Vec<u8> {
    let mut exts = vec![(0x0a0a, Vec::new())];
    exts.extend(
        JA4_EXAMPLE_EXTENSIONS
            .iter()
            .map(|&t| (t, ja4_example_ext_body(t))),
    );
    exts.push((0x4a4a, vec![0]));
    client_hello_message(&JA4_EXAMPLE_CIPHERS, &exts)
}

/// The JA4 worked example in one TLS handshake record, as a client's TCP stream starts.
pub(super) fn ja4_example_stream() -> Vec<u8> {
    record(0x16, &ja4_example_message())
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
pub(crate) struct CertNames<'a> {
    /// Subject commonName.
    pub(crate) subject_cn: Option<&'a str>,
    /// Subject organizationName.
    pub(crate) subject_o: Option<&'a str>,
    /// Issuer commonName.
    pub(crate) issuer_cn: Option<&'a str>,
    /// Issuer organizationName.
    pub(crate) issuer_o: Option<&'a str>,
    /// subjectAltName dNSNames.
    pub(crate) san: &'a [&'a str],
}

/// A v3 certificate (RFC 5280 §4.1) with an Ed25519 key (RFC 8410) and, when `san` is not
/// empty, a subjectAltName extension of dNSNames (§4.2.1.6). The signature is zero bytes: the
/// parser reads names, it does not verify.
pub(crate) fn certificate(n: &CertNames<'_>) -> Vec<u8> {
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
