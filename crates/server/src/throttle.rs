//! Failed authentications, counted so that guessing tokens stays slow and
//! cheap for the daemon: per client — an IPv4 address, or an IPv6 /64,
//! which one subscriber holds whole (see [`Client::group`]) — and for all
//! clients together, since one attacker with many addresses (a range of
//! loopback addresses, a /48 of IPv6) is many clients. Past the global
//! ceiling, every client that failed in the current minute is refused,
//! while one that has not (an operator with a good token) still gets in.
//! The table is bounded: once full, a client it cannot count is refused
//! while the global ceiling is passed.

use super::listener::Client;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed authentications one client may make in a minute.
pub const PER_CLIENT: u32 = 20;
/// Failed authentications all clients together may make in a minute.
pub const GLOBAL: u32 = 200;
/// Clients counted at once.
const CLIENTS: usize = 4096;
/// How long failures count.
const WINDOW: Duration = Duration::from_secs(60);

/// The failure counts.
#[derive(Default)]
pub struct Throttle {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    clients: HashMap<IpAddr, Window>,
    global: Window,
}

/// Failures since a window started.
#[derive(Clone, Copy, Default)]
struct Window {
    started: Option<Instant>,
    failures: u32,
}

impl Window {
    /// Starts a new window when the current one is over.
    fn roll(&mut self, now: Instant) -> &mut Self {
        if self.started.is_none_or(|started| now.duration_since(started) > WINDOW) {
            *self = Self { started: Some(now), failures: 0 };
        }
        self
    }
}

impl Throttle {
    /// Whether `client` is refused now; counts a failure first when `failed`.
    pub fn throttled(&self, client: Client, failed: bool) -> bool {
        let (now, group) = (Instant::now(), client.group());
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        let global = state.global.roll(now);
        global.failures += u32::from(failed);
        let over_global = global.failures > GLOBAL;
        if state.clients.len() >= CLIENTS && !state.clients.contains_key(&group) {
            state.clients.retain(|_, window| window.roll(now).failures > 0);
        }
        if state.clients.len() >= CLIENTS && !state.clients.contains_key(&group) {
            return over_global;
        }
        let window = state.clients.entry(group).or_default().roll(now);
        window.failures += u32::from(failed);
        window.failures > PER_CLIENT || (over_global && window.failures > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> Client {
        Client(std::net::SocketAddr::new(address.parse().unwrap(), 4000))
    }

    #[test]
    fn a_client_is_refused_after_its_own_failures() {
        let throttle = Throttle::default();
        for _ in 0..PER_CLIENT {
            assert!(!throttle.throttled(client("192.0.2.1"), true));
        }
        assert!(throttle.throttled(client("192.0.2.1"), true));
        assert!(!throttle.throttled(client("192.0.2.2"), false), "another client is not");
    }

    #[test]
    fn addresses_of_one_ipv6_64_are_one_client() {
        let throttle = Throttle::default();
        for i in 0..=PER_CLIENT {
            throttle.throttled(client(&format!("2001:db8:0:1::{i:x}")), true);
        }
        assert!(throttle.throttled(client("2001:db8:0:1:ffff::1"), false));
        assert!(!throttle.throttled(client("2001:db8:0:2::1"), false), "the next /64 is someone else");
    }

    #[test]
    fn past_the_global_ceiling_every_failing_client_is_refused_and_others_are_not() {
        let throttle = Throttle::default();
        let many: Vec<Client> = (0..=GLOBAL).map(|i| client(&format!("10.0.{}.{}", i / 256, i % 256))).collect();
        for c in &many {
            throttle.throttled(*c, true);
        }
        assert!(many.iter().all(|c| throttle.throttled(*c, false)), "one failure each, but too many together");
        assert!(!throttle.throttled(client("192.0.2.9"), false), "a client that has not failed gets in");
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = Throttle::default();
        for i in 0..CLIENTS as u32 + 10 {
            throttle.throttled(Client(std::net::SocketAddr::new(std::net::Ipv4Addr::from(i).into(), 1)), false);
        }
        assert!(throttle.state.lock().unwrap().clients.len() <= CLIENTS);
    }
}
