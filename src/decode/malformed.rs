//! Why a frame could not be decoded: a closed set, so each reason can be a metric label.

use etherparse::err::{packet::SliceError, Layer};

/// The reason a frame was not decoded. The set is closed and small on purpose: it becomes the
/// `reason` label of the malformed-packets counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    /// Shorter than its link-layer header, or an invalid link header.
    LinkHeader,
    /// An invalid VLAN or MACsec header.
    LinkExtension,
    /// An invalid IPv4/IPv6 header (version, header length, total length).
    IpHeader,
    /// An invalid IP extension header (IPv6 extension chain, IPv4/IPv6 AH).
    IpExtension,
    /// An invalid TCP header (data offset).
    TcpHeader,
    /// A transport header cut short by the end of the captured data.
    Truncated,
}

impl Malformed {
    /// Every reason, for pre-registering metric labels and printing summaries in a fixed order.
    pub const ALL: [Malformed; 6] = [
        Malformed::LinkHeader,
        Malformed::LinkExtension,
        Malformed::IpHeader,
        Malformed::IpExtension,
        Malformed::TcpHeader,
        Malformed::Truncated,
    ];

    /// Stable snake_case name (metric label, summary key).
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::LinkHeader => "link_header",
            Malformed::LinkExtension => "link_extension",
            Malformed::IpHeader => "ip_header",
            Malformed::IpExtension => "ip_extension",
            Malformed::TcpHeader => "tcp_header",
            Malformed::Truncated => "truncated",
        }
    }

    /// Position in [`Malformed::ALL`], for counting in a fixed-size array.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Maps etherparse's stop error to a reason.
pub(super) fn classify(e: &SliceError, layer: Layer) -> Malformed {
    match e {
        SliceError::Len(_) => match layer {
            Layer::LinuxSllHeader | Layer::Ethernet2Header | Layer::EtherPayload => {
                Malformed::LinkHeader
            }
            Layer::VlanHeader | Layer::MacsecHeader | Layer::MacsecPacket => {
                Malformed::LinkExtension
            }
            Layer::IpHeader | Layer::Ipv4Header | Layer::Ipv6Header => Malformed::IpHeader,
            Layer::Ipv4Packet | Layer::Ipv6Packet => Malformed::IpHeader,
            Layer::IpAuthHeader
            | Layer::Ipv6ExtHeader
            | Layer::Ipv6HopByHopHeader
            | Layer::Ipv6DestOptionsHeader
            | Layer::Ipv6RouteHeader
            | Layer::Ipv6FragHeader => Malformed::IpExtension,
            _ => Malformed::Truncated,
        },
        SliceError::LinuxSll(_) => Malformed::LinkHeader,
        SliceError::Macsec(_) => Malformed::LinkExtension,
        SliceError::Ip(_) | SliceError::Ipv4(_) | SliceError::Ipv6(_) => Malformed::IpHeader,
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(_) => Malformed::IpExtension,
        SliceError::Tcp(_) => Malformed::TcpHeader,
    }
}
