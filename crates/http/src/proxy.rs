//! The client's address behind trusted reverse proxies (`--proxy`), and the
//! key rate limits count it under.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed: addresses or networks.
/// Empty: no proxy, the socket peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `--proxy` without a value: a proxy on this host (nginx beside us).
    pub fn loopback() -> Self {
        TrustedProxies(
            ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
        )
    }

    /// Parses `--proxy` values: IP addresses (`10.0.0.5`, `::1`) or networks
    /// (`10.0.0.0/8`, `fd00::/8`); none at all means [`Self::loopback`].
    pub fn parse(values: &[String]) -> Result<Self, String> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Ok(Self::loopback());
        }
        values
            .into_iter()
            .map(|v| {
                v.parse::<IpNet>()
                    .map(|n| n.trunc())
                    .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("--proxy: '{v}' is neither an IP address nor a network (e.g. 10.0.0.5 or 10.0.0.0/8)")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client: the socket peer, unless the peer is a trusted proxy;
    /// then the rightmost entry of `X-Forwarded-For` that is not a trusted
    /// proxy (entries to its left were written by the client and prove
    /// nothing). Several `X-Forwarded-For` headers, or an entry that is not
    /// an address, stop the walk at the last trusted hop: the request is
    /// counted against the proxy, never against a name the client chose.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut values = headers.get_all("x-forwarded-for").iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return peer;
        };
        let Ok(value) = value.to_str() else {
            return peer;
        };
        let mut client = peer;
        for entry in value.rsplit(',') {
            match parse_entry(entry) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, with or without a port, IPv6
/// possibly in brackets (`[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .ok_or(())
                .and_then(|e| e.parse::<IpAddr>().map_err(|_| ()))
        })
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The key a client is rate-limited under: its IPv4 address, or the /64 of
/// its IPv6 address (one subscriber usually holds a whole /64, so counting
/// single IPv6 addresses would give each client 2^64 budgets).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    plantdb_auth_core::store::lockout::address_group(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s}"))
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                "x-forwarded-for",
                v.parse().unwrap_or_else(|_| panic!("{v}")),
            );
        }
        headers
    }

    fn proxies(values: &[&str]) -> TrustedProxies {
        let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        TrustedProxies::parse(&values).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.client(ip("203.0.113.9"), &xff(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &xff(&["1.2.3.4"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client wrote "6.6.6.6" itself; 198.51.100.1 is what our outer
        // proxy saw, then an inner proxy 10.1.1.1 appended its own peer.
        let h = xff(&["6.6.6.6, 198.51.100.1, 10.1.1.1"]);
        assert_eq!(p.client(ip("192.0.2.7"), &h), ip("198.51.100.1"));
        // Only trusted hops: the leftmost of them.
        assert_eq!(
            p.client(ip("10.0.0.1"), &xff(&["10.2.2.2, 10.3.3.3"])),
            ip("10.2.2.2")
        );
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn ports_and_brackets_are_stripped() {
        let p = proxies(&[]);
        for (entry, want) in [
            ("198.51.100.1:5555", "198.51.100.1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::2]", "2001:db8::2"),
            ("2001:db8::3", "2001:db8::3"),
            (" ::ffff:198.51.100.4 ", "198.51.100.4"),
        ] {
            assert_eq!(
                p.client(ip("127.0.0.1"), &xff(&[entry])),
                ip(want),
                "{entry}"
            );
        }
    }

    #[test]
    fn garbage_or_several_headers_count_against_the_proxy() {
        let p = proxies(&[]);
        assert_eq!(
            p.client(ip("127.0.0.1"), &xff(&["unknown"])),
            ip("127.0.0.1")
        );
        assert_eq!(
            p.client(ip("127.0.0.1"), &xff(&["1.1.1.1, bogus"])),
            ip("127.0.0.1")
        );
        assert_eq!(
            p.client(ip("127.0.0.1"), &xff(&["1.1.1.1", "2.2.2.2"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn proxy_values_parse_or_name_the_bad_one() {
        assert_eq!(proxies(&[]), TrustedProxies::loopback());
        assert!(TrustedProxies::loopback().trusts(ip("127.8.9.10")));
        assert!(TrustedProxies::loopback().trusts(ip("::1")));
        assert!(proxies(&["fd00::/8"]).trusts(ip("fd12::1")));
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "nginx".into()]).unwrap_err();
        assert!(err.contains("'nginx'"), "{err}");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa::1")),
            rate_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("198.51.100.1")), ip("198.51.100.1"));
        assert_eq!(rate_key(ip("::ffff:198.51.100.1")), ip("198.51.100.1"));
    }
}
