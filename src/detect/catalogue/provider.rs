//! The provider hook: names the VPN brand behind a generic tunnel.
//!
//! WireGuard, OpenVPN and IPsec detectors recognise the protocol but cannot know whose service
//! it reaches. When the server's address was resolved from a name that the catalogue lists for
//! a VPN brand (a product of kind `vpn_tunnel` with a `provider`), or the tunnel opens with a
//! TLS ClientHello naming such a host, that brand is the alert's provider, with the name, the
//! catalogue entry and its source as evidence. The verdict itself (family, confidence) is the
//! protocol detector's and is left alone. It runs only on a tunnel verdict without a provider,
//! so its ClientHello parse is rare.

use super::names::NameHit;
use super::{Catalogue, Matcher, Product};
use crate::decode::ip_proto;
use crate::detect::{tls, Enricher, FlowView, Kind, Verdict};
use std::borrow::Cow;
use std::sync::Arc;

/// Names the VPN brand of a generic tunnel (WireGuard, OpenVPN, IPsec, …): a catalogue product
/// with a `provider` and kind `vpn_tunnel` whose `dns` list matches the name the server's
/// address was resolved from, or whose `sni` list matches the server name of a TLS ClientHello
/// opening the flow (a tunnel carried over TLS).
pub(crate) struct ProviderEnricher {
    cat: Arc<Catalogue>,
}

impl ProviderEnricher {
    /// A hook over `cat`.
    pub(crate) fn new(cat: Arc<Catalogue>) -> ProviderEnricher {
        ProviderEnricher { cat }
    }

    /// The brand a name hit belongs to, unless it is the verdict's own family.
    fn brand(&self, hit: NameHit, v: &Verdict) -> Option<(&Product, &str)> {
        let p = self.cat.products.get(hit.product)?;
        let provider = p.provider.as_deref()?;
        (p.kind == Kind::VpnTunnel && p.id != v.family).then_some((p, provider))
    }

    /// The client's TLS server name, when the flow opens with a ClientHello.
    fn sni(view: &FlowView<'_>) -> Option<String> {
        let client = view.to_server.data();
        if view.proto != ip_proto::TCP || client.first() != Some(&tls::CONTENT_HANDSHAKE) {
            return None;
        }
        view.client_hello().done()?.sni.clone()
    }
}

impl Enricher for ProviderEnricher {
    fn enrich(&self, view: &FlowView<'_>, v: &mut Verdict) {
        if v.kind != Kind::VpnTunnel || v.provider.is_some() {
            return;
        }
        let by_dns = view.server_name.and_then(|name| {
            let hit = self.cat.dns.lookup(name)?;
            let (p, provider) = self.brand(hit, v)?;
            let rule = p.dns.get(hit.rule).map(ToString::to_string)?;
            Some((
                provider.to_owned(),
                format!(
                    "provider {provider}: server address resolved from DNS name {name}, which \
                     matches catalogue {} (dns {rule}; source: {})",
                    p.id,
                    p.cite(Matcher::Dns)
                ),
            ))
        });
        let found = by_dns.or_else(|| {
            let name = Self::sni(view)?;
            let hit = self.cat.sni.lookup(&name)?;
            let (p, provider) = self.brand(hit, v)?;
            let rule = p.sni.get(hit.rule).map(ToString::to_string)?;
            Some((
                provider.to_owned(),
                format!(
                    "provider {provider}: TLS SNI {name} matches catalogue {} (sni {rule}; \
                     source: {})",
                    p.id,
                    p.cite(Matcher::Sni)
                ),
            ))
        });
        if let Some((provider, line)) = found {
            v.provider = Some(Cow::Owned(provider));
            v.evidence.push(line);
        }
    }
}
