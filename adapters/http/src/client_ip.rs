//! The client address of a request, believing `X-Forwarded-For` only from trusted proxies.
//!
//! Rate limits and audit events are keyed on this address, so it must not be forgeable: a
//! client that talks to us directly cannot choose it by sending the header.

use std::net::{IpAddr, SocketAddr};

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

    /// The client: the peer itself, unless the peer is a trusted proxy; then the first entry
    /// of `X-Forwarded-For` that is not a trusted proxy, walking from the right (several
    /// header lines read as one list, in order). Each trusted hop walked past vouches for the
    /// entry on its left, so when that entry is unparsable (junk, empty, a leading-zero
    /// octet) the client is the last trusted hop walked, the peer when there is none; when
    /// every entry is a trusted proxy it is the left-most. What lies left of the client was
    /// written by the client and is never read, so nothing a client sends there moves it
    /// onto a proxy's address.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        let mut last_trusted = peer;
        for entry in entries.into_iter().rev() {
            match hop(entry) {
                Some(address) if self.contains(address) => last_trusted = address,
                Some(address) => return address,
                None => return last_trusted,
            }
        }
        last_trusted
    }
}

/// The address an `X-Forwarded-For` entry names: an IP address, or one with a port
/// (`198.51.100.7:4711`, `[2001:db8::7]:443`), canonicalised; `None` for anything else. The
/// standard library's parser already refuses leading-zero octets (`010.0.0.1`), which other
/// parsers read as octal, naming another address.
fn hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(canonical)
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
    fn what_lies_left_of_the_client_is_never_read() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for header in [
            "junk, 198.51.100.7",
            "junk, 198.51.100.7, 10.0.0.5",
            "010.0.0.1, 198.51.100.7",
            ", 198.51.100.7",
        ] {
            assert_eq!(
                trusted.client_ip(ip("10.0.0.2"), [header]),
                ip("198.51.100.7"),
                "{header}"
            );
        }
    }

    #[test]
    fn an_unparsable_client_entry_is_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for (header, client) in [
            ("198.51.100.7, junk", "10.0.0.2"),
            ("198.51.100.7, junk, 10.0.0.5", "10.0.0.5"),
            ("198.51.100.7, junk, 10.0.0.5, 10.0.0.6", "10.0.0.5"),
            ("198.51.100.7,", "10.0.0.2"),
            ("", "10.0.0.2"),
            ("unknown", "10.0.0.2"),
            ("[2001:db8::7]", "10.0.0.2"),
            ("198.51.100.7:99999", "10.0.0.2"),
            ("198.51.100.7:", "10.0.0.2"),
        ] {
            assert_eq!(
                trusted.client_ip(ip("10.0.0.2"), [header]),
                ip(client),
                "{header}"
            );
        }
    }

    #[test]
    fn leading_zero_octets_are_unparsable() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for header in [
            "010.0.0.1",
            "1.02.3.4",
            "198.51.100.007",
            "198.51.100.007:4711",
            "::ffff:010.0.0.1",
        ] {
            assert_eq!(
                trusted.client_ip(ip("10.0.0.2"), [header]),
                ip("10.0.0.2"),
                "{header}"
            );
        }
        // Not read as 10.0.0.1 (a trusted hop to walk past) nor as octal 8.0.0.1.
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), ["198.51.100.7, 010.0.0.1, 10.0.0.5"]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn an_entry_with_a_port_is_the_address_it_names() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for (header, client) in [
            ("198.51.100.7:4711", "198.51.100.7"),
            ("198.51.100.7:0, 10.0.0.5:443", "198.51.100.7"),
            ("[2001:DB8::7]:65535", "2001:db8::7"),
            ("2001:0db8:0000::0007", "2001:db8::7"),
            ("[::ffff:198.51.100.7]:80", "198.51.100.7"),
            ("10.0.0.5:80", "10.0.0.5"),
        ] {
            assert_eq!(
                trusted.client_ip(ip("10.0.0.2"), [header]),
                ip(client),
                "{header}"
            );
        }
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
