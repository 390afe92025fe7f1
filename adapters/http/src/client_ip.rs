//! The client address of a request, believing `X-Forwarded-For` only from trusted proxies.
//!
//! Rate limits and audit events are keyed on this address, so it must not be forgeable: a
//! client that talks to us directly cannot choose it by sending the header.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts the peers inside `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client: the peer itself, unless the peer is a trusted proxy; then the right-most
    /// address of `X-Forwarded-For` that is not a trusted proxy (the left-most if all are).
    /// A header that does not parse, entry by entry, counts as absent: the peer is the client.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut hops = Vec::new();
        for value in forwarded_for {
            for entry in value.split(',') {
                match entry.trim().parse::<IpAddr>() {
                    Ok(address) => hops.push(canonical(address)),
                    Err(_) => return peer,
                }
            }
        }
        hops.iter()
            .rev()
            .find(|address| !self.contains(**address))
            .or_else(|| hops.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// One spelling per address: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 one.
pub fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted = proxies(&[]);
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_forwards_the_right_most_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let client = trusted.client_ip(ip("10.0.0.2"), ["6.6.6.6, 198.51.100.7, 10.0.0.5"]);
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn several_header_lines_read_as_one_list() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let client = trusted.client_ip(ip("10.0.0.2"), ["198.51.100.7", "10.0.0.5"]);
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn an_unparsable_header_counts_as_the_peer() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), ["not-an-ip, 1.2.3.4"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn no_header_from_a_trusted_proxy_is_the_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client_ip(ip("10.0.0.2"), []), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_are_canonicalised() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let client = trusted.client_ip(ip("::ffff:127.0.0.1"), ["::ffff:198.51.100.7"]);
        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn a_chain_of_only_proxies_yields_the_left_most() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), ["10.1.1.1, 10.0.0.5"]),
            ip("10.1.1.1")
        );
    }
}
