//! Which IP addresses a plugin may never reach by name.
//!
//! A granted *name* reaches only public addresses: a name that resolves to a
//! loopback, private, link-local or otherwise internal address is refused,
//! which defeats DNS rebinding. An operator who means to reach an internal
//! service grants its address literally. Cloud metadata endpoints are refused
//! always: no provider needs the machine's own cloud credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// A cloud instance metadata endpoint (169.254.169.254, fd00:ec2::254).
    Metadata,
    /// 127.0.0.0/8 or ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (shared), fc00::/7.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Unspecified, broadcast, multicast, documentation and other ranges
    /// that no provider lives in.
    Special,
}

impl std::fmt::Display for Reserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Metadata => "a cloud metadata address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::Special => "a reserved address",
        })
    }
}

/// Classifies an address; `None` for a public one. An IPv6 address that
/// carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) is
/// what it carries: a gateway would take the packets there.
pub fn reserved(ip: IpAddr) -> Option<Reserved> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => reserved_v4(v4),
            None => reserved_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address stands for, if it is one of the forms
/// that embed one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated); not :: and ::1.
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(low),
        // NAT64: the well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(low),
        // 6to4: 2002:AABB:CCDD::/48.
        [0x2002, a, b, ..] => Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8)),
        // Teredo: 2001:0::/32, the client's address inverted in the last 32 bits.
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(low))),
        _ => None,
    }
}

fn reserved_v4(ip: Ipv4Addr) -> Option<Reserved> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some(Reserved::Metadata)
    } else if ip.is_loopback() {
        Some(Reserved::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Reserved::Private)
    } else if ip.is_link_local() {
        Some(Reserved::LinkLocal)
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
    {
        Some(Reserved::Special)
    } else {
        None
    }
}

fn reserved_v6(ip: Ipv6Addr) -> Option<Reserved> {
    let first = ip.segments()[0];
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some(Reserved::Metadata)
    } else if ip.is_loopback() {
        Some(Reserved::Loopback)
    } else if first & 0xfe00 == 0xfc00 {
        Some(Reserved::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(Reserved::LinkLocal)
    } else if ip.is_unspecified() || ip.is_multicast() || first == 0x2001 && ip.segments()[1] == 0xdb8 {
        Some(Reserved::Special)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<Reserved> {
        reserved(ip.parse().unwrap())
    }

    #[test]
    fn metadata_endpoints_are_recognised_in_every_spelling() {
        assert_eq!(class("169.254.169.254"), Some(Reserved::Metadata));
        assert_eq!(class("::ffff:169.254.169.254"), Some(Reserved::Metadata));
        assert_eq!(class("fd00:ec2::254"), Some(Reserved::Metadata));
    }

    #[test]
    fn internal_ranges_are_not_public() {
        assert_eq!(class("127.0.0.1"), Some(Reserved::Loopback));
        assert_eq!(class("::1"), Some(Reserved::Loopback));
        assert_eq!(class("10.1.2.3"), Some(Reserved::Private));
        assert_eq!(class("172.20.0.1"), Some(Reserved::Private));
        assert_eq!(class("192.168.1.1"), Some(Reserved::Private));
        assert_eq!(class("100.64.0.1"), Some(Reserved::Private));
        assert_eq!(class("fd12::1"), Some(Reserved::Private));
        assert_eq!(class("169.254.1.1"), Some(Reserved::LinkLocal));
        assert_eq!(class("fe80::1"), Some(Reserved::LinkLocal));
        assert_eq!(class("0.0.0.0"), Some(Reserved::Special));
        assert_eq!(class("255.255.255.255"), Some(Reserved::Special));
    }

    #[test]
    fn ipv6_forms_that_embed_an_internal_ipv4_address_are_internal() {
        assert_eq!(class("64:ff9b::a9fe:a9fe"), Some(Reserved::Metadata), "NAT64 of 169.254.169.254");
        assert_eq!(class("64:ff9b::127.0.0.1"), Some(Reserved::Loopback));
        assert_eq!(class("64:ff9b:1::10.0.0.1"), Some(Reserved::Private), "local-use NAT64");
        assert_eq!(class("::127.0.0.1"), Some(Reserved::Loopback), "IPv4-compatible");
        assert_eq!(class("::10.0.0.1"), Some(Reserved::Private));
        assert_eq!(class("2002:a9fe:a9fe::1"), Some(Reserved::Metadata), "6to4 of 169.254.169.254");
        assert_eq!(class("2002:c0a8:0101::"), Some(Reserved::Private), "6to4 of 192.168.1.1");
        assert_eq!(class("2001:0:4136:e378:8000:63bf:80ff:fffe"), Some(Reserved::Loopback), "Teredo of 127.0.0.1");
        assert_eq!(class("64:ff9b::5db8:d822"), None, "NAT64 of a public address is public");
    }

    #[test]
    fn public_addresses_pass() {
        assert_eq!(class("93.184.216.34"), None);
        assert_eq!(class("2606:4700::1111"), None);
        assert_eq!(class("100.128.0.1"), None);
    }
}
